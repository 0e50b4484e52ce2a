"""``make reproduce``: generate the default instance sets and summarise them.

Later stages (campaign and tables) are added here as they land, so one command goes from
instances to the tables in ``paper_tables/``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small subset, a few minutes")
    parser.add_argument("--out", default="instances/default", help="where the default instances go")
    args = parser.parse_args(argv)
    from instances.defaults import write_default_sets

    paths = write_default_sets(Path(args.out), sets=("small",) if args.quick else None)
    from instances.io import load

    for path in paths:
        inst = load(path)
        print(f"{path}: {inst.sizes} hash {inst.hash}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
