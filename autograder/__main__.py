"""``python -m autograder``: grading (:mod:`autograder.cli`) and ``users`` (:mod:`autograder.server.users_cli`)."""

import sys

if len(sys.argv) > 1 and sys.argv[1] == "users":
    from autograder.server.users_cli import main

    sys.exit(main(sys.argv[2:]))

from autograder.cli import main  # noqa: E402 - after the dispatch, so ``users`` does not import the grader

sys.exit(main())
