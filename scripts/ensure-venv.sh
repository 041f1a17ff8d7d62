# Sourced by ./run-tokentape and ./run-tests: make .venv and install tokentape (with test extras) into it,
# again only when pyproject.toml changed since the last install.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$here/.venv"
stamp="$venv/.installed"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv" >&2
fi
if [ ! -f "$stamp" ] || [ "$here/pyproject.toml" -nt "$stamp" ]; then
  echo "tokentape: installing into $venv (first run only)..." >&2
  "$venv/bin/python" -m pip install --quiet --upgrade pip >&2
  "$venv/bin/python" -m pip install --quiet -e "$here[test]" >&2
  touch "$stamp"
fi
