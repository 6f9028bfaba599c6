// Entry of a worker thread of `audit verify`. Worker threads do not inherit the main thread's
// TypeScript loader: register tsx here, then load the worker itself. Its CommonJS hook compiles
// on this thread; its ESM hooks would start a loader thread of their own for every worker (about
// 0.2 s more CPU per verify, a tenth of checking 100,000 records on two cores; measured).
require('tsx/cjs/api').register();
require('./checkRecordsWorker.ts');
