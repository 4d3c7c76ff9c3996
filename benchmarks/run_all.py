"""``make bench``: every benchmark, one after the other; each prints its own figures."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

for script in ("bench_atera_twin.py", "bench_qbo_twin.py", "bench_extraction.py", "bench_export.py",
               "bench_matching.py"):
    print(f"\n=== {script} ===", flush=True)
    subprocess.run([sys.executable, str(HERE / script)], check=True)
