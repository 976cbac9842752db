# shellcheck shell=bash
# The three JavaScript runtimes vtunts runs on, as installed by scripts/setup
# from npm. Sourced by scripts/run, scripts/test and scripts/bench-ffi.

# runtime_command ROOT RUNTIME: prints, one word per line, the command that runs
# a TypeScript module under RUNTIME (the module path and its arguments follow).
runtime_command() {
  local root=$1
  case "$2" in
    bun) echo "$root/node_modules/bun/bin/bun.exe" ;;
    deno) printf '%s\n' "$root/node_modules/deno/deno" run -A --quiet --config "$root/deno.json" ;;
    # Node 20 cannot run .ts files: tsx compiles them on import, registered by
    # src/runtime/node-loader.mjs (in workers too). An absolute path: any cwd works.
    # A 1 MiB young generation (V8's default grows to 16): 13% less peak RSS per
    # daemon at the same throughput (README, Performance).
    node) printf '%s\n' node --max-semi-space-size=1 --import "$root/src/runtime/node-loader.mjs" ;;
    *) return 1 ;;
  esac
}

# runtime_ready ROOT RUNTIME: true if RUNTIME's npm packages are installed.
runtime_ready() {
  local root=$1
  case "$2" in
    bun) [ -x "$root/node_modules/bun/bin/bun.exe" ] ;;
    deno) [ -x "$root/node_modules/deno/deno" ] ;;
    node) [ -d "$root/node_modules/tsx" ] && [ -d "$root/node_modules/koffi" ] ;;
    *) return 1 ;;
  esac
}
