# Sourced by the scripts that take their tools from PyPI. `cached_venv NAME PACKAGE...` makes the
# virtualenv ~/.cache/ragbase/NAME hold PACKAGE... (installed once, and again when the list
# changes) and prints its path; progress goes to stderr.
cached_venv() {
  local venv=${XDG_CACHE_HOME:-$HOME/.cache}/ragbase/$1
  shift
  if [[ ! -f $venv/installed || $(cat "$venv/installed") != "$*" ]]; then
    echo "installing $* from PyPI into $venv" >&2
    mkdir -p "$(dirname "$venv")"
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install -q --disable-pip-version-check "$@" >&2
    echo "$*" >"$venv/installed"
  fi
  echo "$venv"
}

# The python of onnxruntime and its tools, the reference the model is checked and measured against.
reference_python() {
  echo "$(cached_venv reference-venv numpy==2.4.6 onnxruntime==1.32.0 tokenizers==0.23.3 safetensors==0.8.0 onnx==1.23.2)/bin/python"
}
