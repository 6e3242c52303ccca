"""A Node process using Bull's own client on a test's queue: the platform's API (``add``) and worker (``consume``)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

SCRIPT = r"""
const Queue = require('bull');
const [mode, name, url, arg] = process.argv.slice(2);
const queue = new Queue(name, url);
const done = async (value) => { console.log(JSON.stringify(value)); await queue.close(); process.exit(0); };
(async () => {
  if (mode === 'add') {  // exactly what the platform's API does for one event
    const job = await queue.add('process-event', JSON.parse(arg), {
      attempts: 3, backoff: {type: 'exponential', delay: 2000}, removeOnComplete: 1000, removeOnFail: false,
    });
    return done({id: job.id});
  }
  if (mode === 'pause') { await queue.pause(); return done({paused: true}); }
  if (mode === 'resume') { await queue.resume(); return done({paused: false}); }
  if (mode === 'consume') {  // the worker: one job at a time, until `want` jobs or `ms` pass
    const [want, ms] = arg.split(',').map(Number);
    const seen = [];
    setTimeout(() => done(seen), ms);
    queue.process('process-event', 1, async (job) => {
      seen.push({id: job.id, name: job.name, data: job.data, opts: job.opts, timestamp: job.timestamp});
      if (seen.length === want) setImmediate(() => done(seen));
      return {stored: true};
    });
    return;
  }
  throw new Error('unknown mode ' + mode);
})().catch((error) => { console.error(error); process.exit(1); });
"""


class BullNode:
    def __init__(self, npm_dir: Path, folder: Path, url: str, queue: str) -> None:
        self.script = folder / "bull-client.js"
        self.script.write_text(SCRIPT)
        self.env = {**os.environ, "NODE_PATH": str(npm_dir / "node_modules")}
        self.url = url
        self.queue = queue

    def run(self, mode: str, arg: str = "", timeout: float = 60) -> Any:
        done = subprocess.run(
            ["node", str(self.script), mode, self.queue, self.url, arg],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout.strip().splitlines()[-1])

    def consume(self, want: int, within_ms: int) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.run("consume", f"{want},{within_ms}", timeout=within_ms / 1000 + 30)
        return result
