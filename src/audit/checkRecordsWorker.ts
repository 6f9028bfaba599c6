// A worker thread of `audit verify`: checks the pages of records it is sent (checkRecords) and
// answers each with the leaf hashes, transferred, not copied.
import { parentPort } from 'node:worker_threads';
import type { RecordPage } from './AuditStore.js';
import { checkRecords } from './checkRecords.js';

export interface CheckRequest {
  id: number;
  page: RecordPage;
  logId: string;
  firstIndex: number;
}

parentPort!.on('message', (m: CheckRequest) => {
  try {
    const result = checkRecords(m.page, m.logId, m.firstIndex);
    // checkRecords made the buffer for this page alone: it moves to the main thread, no copy.
    parentPort!.postMessage({ id: m.id, passed: result.passed, problem: result.problem, hashes: result.hashes }, [result.hashes.buffer as ArrayBuffer]);
  } catch (err) {
    parentPort!.postMessage({ id: m.id, error: err instanceof Error ? err.message : String(err) });
  }
});

parentPort!.postMessage({ ready: true });
