import sys

from gitops_ml.cli import main

sys.exit(main())
