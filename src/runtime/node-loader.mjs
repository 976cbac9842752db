// Node 20 cannot run TypeScript: `node --import <this file>` registers tsx's
// ESM loader, which compiles .ts modules on import. tsx's own `--import tsx`
// registers only on the main thread; this file is also imported first thing in
// every worker thread (src/runtime/worker.ts), so workers get the loader too.
import { register } from "tsx/esm/api";

register();
