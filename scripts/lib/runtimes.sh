# shellcheck shell=bash
# The three JavaScript runtimes vtunts runs on, as installed by scripts/setup
# from npm. Sourced by scripts/run, scripts/test and scripts/bench-ffi.

# Node's flags for vtunts: a 1 MiB young generation (V8's default grows to 16):
# 13% less peak RSS per daemon at the same throughput (README, Performance).
NODE_FLAGS=(--max-semi-space-size=1)

# runtime_command ROOT RUNTIME: prints, one word per line, the command that runs
# a TypeScript module under RUNTIME (the module path and its arguments follow).
runtime_command() {
  local root=$1
  case "$2" in
    bun) echo "$root/node_modules/bun/bin/bun.exe" ;;
    deno) printf '%s\n' "$root/node_modules/deno/deno" run -A --quiet --config "$root/deno.json" ;;
    # Node 20 cannot run .ts files: tsx compiles them on import, registered by
    # src/runtime/node-loader.mjs (in workers too). An absolute path: any cwd works.
    node) printf '%s\n' node "${NODE_FLAGS[@]}" --import "$root/src/runtime/node-loader.mjs" ;;
    *) return 1 ;;
  esac
}

# node_js_entry ROOT: prints the path of src/cli/main.js in the JavaScript that
# Node runs the daemon from, compiling it first if the sources changed. Node 20
# cannot run .ts files; tsx's loader could (tests use it), but it costs a Node
# daemon about 0.5 s per thread at start-up and an esbuild child process, so
# the daemon runs tsc's output (tsconfig.node.json, without type checking:
# about 5 s, once per change) from .cache/node-js/<hash of the inputs>/. A
# directory is complete once renamed into place, so concurrent runs and
# daemons still running an older build are safe; the newest three are kept.
node_js_entry() {
  local root=$1 cache="$1/.cache/node-js" hash dir tmp
  hash=$(cd "$root" && { find src ffi -name '*.ts' -print0 | sort -z | xargs -0 cat; cat tsconfig.json tsconfig.node.json node_modules/typescript/package.json; } | sha256sum | cut -c1-16)
  dir="$cache/$hash"
  if [ ! -f "$dir/src/cli/main.js" ]; then
    if ! mkdir -p "$cache" 2>/dev/null || [ ! -w "$cache" ]; then
      echo "vtunts: cannot write ${cache#"$root/"}, where Node runs vtunts from compiled JavaScript: run scripts/run node once as a user who can write $root" >&2
      return 1
    fi
    (
      flock 8
      [ -f "$dir/src/cli/main.js" ] && exit 0
      echo "vtunts: compiling the sources for Node (once per change) into ${dir#"$root/"}" >&2
      tmp=$(mktemp -d "$cache/.build.XXXXXX") && chmod 755 "$tmp" # mktemp makes it 0700: other users run it too
      if ! "$root/node_modules/.bin/tsc" -p "$root/tsconfig.node.json" --noCheck --outDir "$tmp" >&2 || [ ! -f "$tmp/src/cli/main.js" ]; then
        rm -rf "$tmp"; echo "vtunts: compiling for Node failed" >&2; exit 1
      fi
      mv -T "$tmp" "$dir"
      ls -1td "$cache"/*/ | tail -n +4 | xargs -r rm -rf
    ) 8> "$cache/.lock" || return 1
  fi
  echo "$dir/src/cli/main.js"
}

# runtime_ready ROOT RUNTIME: true if RUNTIME's npm packages are installed.
runtime_ready() {
  local root=$1
  case "$2" in
    bun) [ -x "$root/node_modules/bun/bin/bun.exe" ] ;;
    deno) [ -x "$root/node_modules/deno/deno" ] ;;
    node) [ -d "$root/node_modules/tsx" ] && [ -d "$root/node_modules/koffi" ] && [ -x "$root/node_modules/.bin/tsc" ] ;;
    *) return 1 ;;
  esac
}
