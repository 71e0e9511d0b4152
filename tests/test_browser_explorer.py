"""Notebook 06's explorer in a real browser: JupyterLab on 127.0.0.1, driven by headless Chromium through Selenium.

Needs Debian's ``chromium`` and ``chromium-driver`` (``apt-get install chromium chromium-driver``);
``.ci/run`` installs them. Without them the test is skipped, except under CI (``CI=true``), where
it fails instead. ``RESPIRENET_CHROMIUM`` and ``RESPIRENET_CHROMEDRIVER`` point at other binaries;
screenshots go to the test's temporary folder and, when set, ``RESPIRENET_TEST_ARTIFACTS``.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from respirelib.apps.lab import start_lab
from respirelib.apps.notebooks import notebook_path


INSTALL_HINT = ("apt-get install chromium chromium-driver (Debian/Ubuntu; selenium comes with the dev extra), "
                "or set RESPIRENET_CHROMIUM and RESPIRENET_CHROMEDRIVER")
# As root in a container, without network: no sandbox, no GPU, and nothing that phones home.
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                  "--no-first-run", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--window-size=1400,1600")
ALL_DEVICES = "all"
WAIT_S = 120  # the longest wait for one step (running every cell on two busy cores)
# The open notebook as the keyboard could change it: cells, the active one, its type, the mode.
NOTEBOOK_STATE = """
const notebook = document.querySelector(".jp-Notebook");
const cells = Array.from(notebook.querySelectorAll(".jp-Notebook-cell"));
const active = cells.findIndex((cell) => cell.classList.contains("jp-mod-active"));
return {cells: cells.length, active: active, code: active >= 0 && cells[active].classList.contains("jp-CodeCell"),
        explorer: active >= 0 && cells[active].querySelector(".respirenet-explorer") !== null,
        command: notebook.classList.contains("jp-mod-commandMode")};
"""


def _binary(env: str, *names: str) -> str | None:
    if os.environ.get(env):
        return os.environ[env] if Path(os.environ[env]).is_file() else None
    return next((found for name in names if (found := shutil.which(name))), None)


def require_browser() -> tuple[str, str]:
    """Chromium's and chromedriver's paths; a skip saying what to install, or under CI (``CI=true``) a failure."""
    chromium = _binary("RESPIRENET_CHROMIUM", "chromium", "chromium-browser")
    driver = _binary("RESPIRENET_CHROMEDRIVER", "chromedriver")
    try:
        import selenium  # noqa: F401
    except ImportError:
        chromium = None
    if chromium and driver:
        return chromium, driver
    message = f"the browser test needs Chromium, its driver and selenium: {INSTALL_HINT}"
    if os.environ.get("CI") == "true":  # CI installs them (.ci/run): missing there is a failure, not a skip
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")  # session scope and first in the test's arguments: skip before training
def browser_binaries() -> tuple[str, str]:
    return require_browser()


def test_a_missing_browser_skips_with_what_to_install_and_fails_under_ci(monkeypatch, tmp_path):
    monkeypatch.setenv("RESPIRENET_CHROMIUM", str(tmp_path / "no-chromium"))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install chromium chromium-driver"):
        require_browser()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="apt-get install chromium chromium-driver"):
        require_browser()


def _isolated_jupyter_dirs(base: Path) -> dict[str, str]:
    """Config, runtime and settings folders of the test's own, so a user's JupyterLab settings play no part."""
    dirs = {name: base / name for name in ("config", "runtime", "settings", "workspaces")}
    for folder in dirs.values():
        folder.mkdir(parents=True)
    # No "would you like news?" toast over the notebook.
    notification = dirs["settings"] / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    notification.parent.mkdir(parents=True)
    notification.write_text(json.dumps({"fetchNews": "false"}))
    return {"JUPYTER_CONFIG_DIR": str(dirs["config"]), "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]),
            "JUPYTERLAB_SETTINGS_DIR": str(dirs["settings"]), "JUPYTERLAB_WORKSPACES_DIR": str(dirs["workspaces"])}


@pytest.fixture
def lab_on_notebook_06(browser_binaries, smoke_run, tiny_synthetic, tmp_path):
    """Notebook 06 with the smoke run's parameters injected (not executed), served by JupyterLab."""
    import papermill

    folder, out = tmp_path / "notebooks", tmp_path / "run"
    folder.mkdir()
    source = notebook_path("06")
    # papermill's prepare-only mode: the parameters cell injected exactly as the pipeline does, nothing run.
    papermill.execute_notebook(str(source), str(folder / source.name), prepare_only=True, progress_bar=False,
                               parameters={"data_dir": str(tiny_synthetic), "profile": "smoke", "seed": 0,
                                           "device": "cpu", "run_dir": str(out), "figures_dir": str(out / "figures"),
                                           "model_run": str(smoke_run)})
    server = start_lab(folder, log=tmp_path / "jupyterlab.log", env=_isolated_jupyter_dirs(tmp_path / "jupyter"))
    try:
        yield server, source.name, out
    finally:
        server.stop()


@pytest.fixture
def browser(browser_binaries, tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver_path = browser_binaries
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def typeahead(options: list[str], current: str, letter: str) -> str:
    """The option a closed ``<select>`` moves to when ``letter`` is typed: the next one starting with it."""
    start = options.index(current)
    return next(options[(start + step) % len(options)] for step in range(1, len(options) + 1)
                if options[(start + step) % len(options)].lower().startswith(letter))


def test_typeahead():
    devices = ["all", "AKGC417L", "Litt3200", "LittC2SE", "Meditron"]
    assert typeahead(devices, "Litt3200", "l") == "LittC2SE" and typeahead(devices, "LittC2SE", "l") == "Litt3200"
    assert typeahead(devices, "AKGC417L", "a") == "all" and typeahead(devices, "Meditron", "a") == "all"


def test_the_explorer_carries_its_keyboard_script():
    """Without a browser: the hidden Output and its script, and the class the script looks for (used below)."""
    from respirelib.explain.explorer import EXPLORER_CLASS, ExplorerBox, keyboard_output

    hidden = keyboard_output()
    assert hidden.layout.display == "none"
    [output] = hidden.outputs
    script = output["data"]["text/html"]
    assert script.startswith("<script>") and script.endswith("</script>")
    assert "data-lm-suppress-shortcuts" in script and f'closest(".{EXPLORER_CLASS}")' in script
    assert EXPLORER_CLASS in ExplorerBox([hidden])._dom_classes


def _screenshot(driver, tmp_path: Path, name: str, capsys) -> Path:
    path = tmp_path / name
    driver.save_screenshot(str(path))
    where = [path]
    if os.environ.get("RESPIRENET_TEST_ARTIFACTS"):
        artifacts = Path(os.environ["RESPIRENET_TEST_ARTIFACTS"])
        artifacts.mkdir(parents=True, exist_ok=True)
        where.append(Path(shutil.copy2(path, artifacts / name)))
    with capsys.disabled():  # shown even when the test passes
        for written in where:
            print(f"\nbrowser test screenshot: {written}")
    return path


@pytest.mark.browser
@pytest.mark.notebook
def test_explorer_in_jupyterlab(browser_binaries, lab_on_notebook_06, browser, tmp_path, capsys):
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select, WebDriverWait

    server, name, out = lab_on_notebook_06
    # The explorer replaces its player and figure while it is read: retry a read that went stale.
    wait = WebDriverWait(browser, WAIT_S, ignored_exceptions=(StaleElementReferenceException,))

    def explorer():
        """The explorer's dropdowns by label, its player's source and its figure's source (None until shown)."""
        boxes = browser.find_elements(By.CSS_SELECTOR, ".widget-vbox .widget-dropdown")
        dropdowns = {box.find_element(By.TAG_NAME, "label").text: box.find_element(By.TAG_NAME, "select")
                     for box in boxes}
        sources = browser.find_elements(By.CSS_SELECTOR, ".widget-output audio source")
        images = browser.find_elements(By.CSS_SELECTOR, ".widget-output img")
        return (dropdowns, sources[0].get_attribute("src") if sources else None,
                images[0].get_attribute("src") if images else None)

    def cycles() -> list[str]:
        return [option.text for option in Select(explorer()[0]["cycle"]).options]

    def settled(read):
        """``read()``, retried while the explorer replaces what it reads (a stale element is not a failure)."""
        return wait.until(lambda driver: (read(),))[0]

    browser.get(server.url(f"lab/tree/{name}"))
    # The notebook is open and its kernel (the project's own, no kernel chooser) is idle.
    wait.until(lambda driver: "Idle" in driver.find_element(By.ID, "jp-main-statusbar").text)
    browser.find_element(By.XPATH, "//li[contains(@class, 'lm-MenuBar-item')][.//div[text()='Run']]").click()
    browser.find_element(By.CSS_SELECTOR, "li.lm-Menu-item[data-command='runmenu:run-all']").click()
    # "Run all" stops at a failing cell; the last code cell writes the JSON, so its presence means all ran.
    wait.until(lambda driver: (out / "06_explanations.json").is_file())
    wait.until(lambda driver: len(explorer()[0]) == 4 and all(explorer()[1:]))

    dropdowns, audio, figure = explorer()
    assert list(dropdowns) == ["part", "device", "class", "cycle"]
    assert all(box.is_displayed() for box in dropdowns.values())
    assert browser.find_element(By.CSS_SELECTOR, ".widget-output audio").is_displayed()
    assert browser.find_element(By.CSS_SELECTOR, ".widget-output img").is_displayed()
    assert audio.startswith("data:audio/wav;base64,") and figure.startswith("data:image/png;base64,")
    explorer_box = browser.find_element(
        By.XPATH, "//div[contains(@class, 'widget-vbox')][.//b[text()='Explore the cycles']]")
    browser.execute_script("arguments[0].scrollIntoView()", explorer_box)
    _screenshot(browser, tmp_path, "explorer-first-cycle.png", capsys)

    # A device other than the current cycle's: the cycle list narrows to it and the figure is redrawn.
    everything = cycles()
    current = Select(dropdowns["cycle"]).first_selected_option.text
    devices = [option.text for option in Select(dropdowns["device"]).options]
    assert devices[0] == ALL_DEVICES and len(devices) > 2
    counts = {d: sum(text.split(":")[0].endswith(f"_{d}") for text in everything) for d in devices[1:]}
    device = max((d for d in counts if not current.split(":")[0].endswith(f"_{d}")), key=counts.get)
    assert 2 <= counts[device] < len(everything)
    Select(dropdowns["device"]).select_by_visible_text(device)
    wait.until(lambda driver: explorer()[2] not in (None, figure) and len(cycles()) == counts[device])
    narrowed = cycles()
    assert all(text.split(":")[0].endswith(f"_{device}") for text in narrowed) and set(narrowed) < set(everything)
    dropdowns, audio, figure = explorer()
    assert Select(dropdowns["device"]).first_selected_option.text == device

    # Another cycle of that device: the player and the figure change.
    other = next(text for text in narrowed if text != Select(dropdowns["cycle"]).first_selected_option.text)
    Select(dropdowns["cycle"]).select_by_visible_text(other)
    wait.until(lambda driver: explorer()[1] not in (None, audio) and explorer()[2] not in (None, figure))
    assert Select(explorer()[0]["cycle"]).first_selected_option.text == other
    browser.execute_script("arguments[0].scrollIntoView()", explorer_box)
    _screenshot(browser, tmp_path, "explorer-after-choices.png", capsys)

    # The keyboard: a click on the "part" label focuses its dropdown and Tab moves to the device's. There Home,
    # a typed letter and an arrow key change the device and the cycle list, and the figure when the cycle shown
    # is not the new device's; no key reaches a notebook shortcut ("a" would insert a cell, ArrowDown select the
    # next one, both in JupyterLab's command mode, where the notebook is while a dropdown has the focus).
    explorer_box.find_element(By.XPATH, ".//label[text()='part']").click()
    ActionChains(browser).send_keys(Keys.TAB).perform()
    assert browser.switch_to.active_element == explorer()[0]["device"]
    notebook = browser.execute_script(NOTEBOOK_STATE)
    assert notebook["code"] and notebook["explorer"] and notebook["command"], notebook
    assert explorer()[0]["device"].get_attribute("data-lm-suppress-shortcuts") == "true"
    letter = devices[1][0].lower()  # "a" with ICBHI's devices
    assert typeahead(devices, ALL_DEVICES, letter) == devices[1]
    redrawn = 0
    for key, expected in ((Keys.HOME, ALL_DEVICES), (letter, devices[1]), (Keys.ARROW_DOWN, devices[2])):
        shown = [text for text in everything if expected == ALL_DEVICES or text.split(":")[0].endswith(f"_{expected}")]
        dropdowns, _, figure = explorer()
        new_cycle = Select(dropdowns["cycle"]).first_selected_option.text not in shown
        ActionChains(browser).send_keys(key).perform()
        # Done when the explorer has changed, or at once when the key went to the notebook instead.
        wait.until(lambda driver: driver.execute_script(NOTEBOOK_STATE) != notebook or (
            cycles() == shown and (not new_cycle or explorer()[2] not in (None, figure))))
        after = browser.execute_script(NOTEBOOK_STATE)
        assert after == notebook, f"{key!r} reached the notebook: {notebook} became {after}"
        assert settled(lambda: Select(explorer()[0]["device"]).first_selected_option.text) == expected
        assert settled(lambda: browser.switch_to.active_element == explorer()[0]["device"])
        redrawn += new_cycle
    assert redrawn == 2  # "all" keeps the cycle shown; the letter and the arrow each pick another device's
    browser.execute_script("arguments[0].scrollIntoView()", explorer_box)
    _screenshot(browser, tmp_path, "explorer-after-keys.png", capsys)
