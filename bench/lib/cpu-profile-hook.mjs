// Loaded into the operator for diagnosis (NODE_OPTIONS does not accept --cpu-prof):
//   BENCH_OPERATOR_NODE_OPTIONS="--import $PWD/bench/lib/cpu-profile-hook.mjs" npm run bench:controller
// samples the operator's CPU every 200 µs from start and writes
// $CPU_PROFILE_DIR/operator-<pid>.cpuprofile (default /tmp) on SIGTERM, for Chrome DevTools.
import fs from 'node:fs';
import inspector from 'node:inspector';
import path from 'node:path';

const dir = process.env.CPU_PROFILE_DIR ?? '/tmp';
const session = new inspector.Session();
session.connect();
session.post('Profiler.enable', () =>
  session.post('Profiler.setSamplingInterval', { interval: 200 }, () => session.post('Profiler.start')),
);
process.once('SIGTERM', () => {
  session.post('Profiler.stop', (err, res) => {
    if (!err)
      fs.writeFileSync(path.join(dir, `operator-${process.pid}.cpuprofile`), JSON.stringify(res.profile));
  });
});
