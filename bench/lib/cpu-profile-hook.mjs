// Loaded into the operator for diagnosis (NODE_OPTIONS does not accept --cpu-prof):
//   BENCH_OPERATOR_NODE_OPTIONS="--import $PWD/bench/lib/cpu-profile-hook.mjs" npm run bench:controller
// samples the operator's CPU every 200 µs from start and writes
// $CPU_PROFILE_DIR/operator-<pid>.cpuprofile (default /tmp), for Chrome DevTools, after
// $CPU_PROFILE_SECONDS (if set) or on SIGTERM. The SIGTERM path can lose the race with the
// operator's own exit; set CPU_PROFILE_SECONDS to be sure.
import fs from 'node:fs';
import inspector from 'node:inspector';
import path from 'node:path';

const dir = process.env.CPU_PROFILE_DIR ?? '/tmp';
const session = new inspector.Session();
session.connect();
session.post('Profiler.enable', () =>
  session.post('Profiler.setSamplingInterval', { interval: 200 }, () => session.post('Profiler.start')),
);
let written = false;
const write = () => {
  if (written) return;
  written = true;
  session.post('Profiler.stop', (err, res) => {
    if (!err)
      fs.writeFileSync(path.join(dir, `operator-${process.pid}.cpuprofile`), JSON.stringify(res.profile));
  });
};
const seconds = Number(process.env.CPU_PROFILE_SECONDS ?? 0);
if (seconds > 0) setTimeout(write, seconds * 1000).unref();
process.once('SIGTERM', write);
