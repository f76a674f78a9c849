#!/usr/bin/env bash
# ci.yml's "Coverage report": coverage.xml and htmlcov/ from the unit and integration runs, and the
# report in the job summary.

python -m coverage xml -o coverage.xml
python -m coverage html -d htmlcov
{
  echo "### Coverage"
  echo ""
  echo '```'
  python -m coverage report
  echo '```'
} >> "${GITHUB_STEP_SUMMARY}"
