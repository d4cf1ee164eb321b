"""Run mlsd-coach as ``python -m mlsd_coach``."""

from mlsd_coach.cli import main

if __name__ == "__main__":
    main()
