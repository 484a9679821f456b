/**
 * Entry point of the single executable (`npm run build:sea` bundles this file and its imports
 * into one CommonJS script for node's SEA). The primary runs the CLI; a process forked by
 * `run --workers N` (node:cluster sets NODE_UNIQUE_ID) is the same executable, and runs a worker.
 */
import cluster from 'node:cluster';

if (cluster.isWorker) {
  void import('../cli/worker-main.js');
} else {
  void import('../cli/main.js').then(async ({ main }) => {
    process.exitCode = await main(process.argv, { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() });
  });
}
