"""Write ``respirelib/data/icbhi_manifest.json`` from the real ICBHI annotation files (hashes only, no content).

Usage: ``../.venv/bin/python make_icbhi_manifest.py [FOLDER]`` (default ``../../shared/icbhi-annotations``).
"""

import json
import sys
from pathlib import Path

from respirelib.storage import atomic_write_text
from respirelib.data.manifest import MANIFEST_FILE, build_manifest

REPO_ROOT = Path(__file__).resolve().parent.parent
folder = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO_ROOT.parent / "shared" / "icbhi-annotations"
manifest = build_manifest(folder)
out = atomic_write_text(REPO_ROOT / "respirelib" / "data" / MANIFEST_FILE, json.dumps(manifest, indent=1) + "\n")
print(f"{out}: {manifest['counts']}")
