/**
 * npm run bench:release — releases under constant load, on the real rig (testkit/rig-setup.sh).
 *
 * autocannon keeps 100 keep-alive connections busy through the proxy's public port for the whole
 * run, and 40 more keep-alive connections make 5-second requests (/slow?ms=5000) one after another,
 * while the host tool, over SSH, performs 20 consecutive releases alternating two versions
 * (each starts a new container: --fresh, so none is a mere switch back to the retained colour),
 * then one rollback (the retained colour: an instant switch). Each release replaces the colour the
 * previous one switched away from, on which 5-second requests are still running: it drains it
 * first (deploy.drainSeconds, default 30). The last line is:
 *
 *   releases=20 requests=N failed=F slow=S slow_failed=X p99_ms=P release_s=R rollback_s=B
 *
 * N, F: the fast requests; F: non-2xx responses plus socket errors (timeouts included) over the
 * whole run. S, X: the 5-second requests answered and started, and those that failed (non-2xx or a
 * socket error). P: the fast requests' p99.
 * R: median host-side release time minus image pull, app start-up (start to first healthy answer)
 *    and the drain of the colour it replaces (reported on the line before: it waits for requests),
 *    from the tool's release log. B: the rollback's wall time as the client sees it, SSH included.
 */
import * as http from "http";
import * as os from "os";
import {
    bluegreen,
    ensureRig,
    fetchStatus,
    get,
    history,
    installTool,
    removeInstances,
    resetInstance,
    Rig,
    settingsFor,
    sleep,
    startLoad,
    target,
} from "../testkit/rig";
import { releaseArgs } from "../components/deploy/host-commands";

const RELEASES = 20;
const CONNECTIONS = 100;
const SLOW_CONNECTIONS = 40;
const SLOW_PATH = "/slow?ms=5000";
const INSTANCE = "bgbench";
const PORT = 18400;
const VERSIONS = ["2.0.0", "1.0.0"];

const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    const m = Math.floor(s.length / 2);
    return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

async function main(): Promise<void> {
    const r = await ensureRig();
    if (typeof r === "string") throw new Error(`the benchmark needs the rig: ${r}`);
    const rig: Rig = r;
    const host = rig.hosts[0];
    const settings = {
        ...settingsFor(rig, INSTANCE, PORT),
        health: { path: "/health", successes: 3, intervalMs: 200, timeoutSeconds: 30 },
    };
    const release = (version: string, extra: string[] = []) =>
        bluegreen(rig, host, [...releaseArgs(target(rig, version), settings), ...extra]);

    await removeInstances(INSTANCE);
    await resetInstance(rig, host, INSTANCE);
    if ((await installTool(rig, host)).code !== 0) throw new Error("cannot install the tool");
    const first = await release("1.0.0");
    if (first.code !== 0) throw new Error(`first release failed:\n${first.stderr}`);
    const load0 = os.loadavg()[0];

    const load = startLoad(PORT, CONNECTIONS);
    const agent = new http.Agent({ keepAlive: true, maxSockets: SLOW_CONNECTIONS });
    const slow: string[] = [];
    let slowRunning = true;
    const slowClients = Array.from({ length: SLOW_CONNECTIONS }, async () => {
        while (slowRunning) slow.push(await fetchStatus(agent, PORT, SLOW_PATH));
    });
    await sleep(2000);

    const t0 = Date.now();
    const logStart = (await history(rig, host, INSTANCE)).length;
    for (let i = 0; i < RELEASES; i++) {
        const version = VERSIONS[i % 2];
        const started = Date.now();
        const res = await release(version, ["--fresh"]);
        if (res.code !== 0) {
            void load.stop();
            slowRunning = false;
            throw new Error(`release ${i + 1} (${version}) failed:\n${res.stderr}`);
        }
        console.log(
            `release ${i + 1}/${RELEASES}: ${version} in ${((Date.now() - started) / 1000).toFixed(2)}s`,
        );
    }
    // Rollback: back to the version before the last release, which the retained colour still runs.
    const rollbackTo = VERSIONS[(RELEASES - 2) % 2];
    const rbStart = Date.now();
    const rb = await release(rollbackTo);
    const rollbackSeconds = (Date.now() - rbStart) / 1000;
    if (rb.code !== 0) throw new Error(`rollback failed:\n${rb.stderr}`);
    const served = (await get(PORT, "/version")).body;
    await sleep(2000);
    slowRunning = false;
    await Promise.all(slowClients);
    agent.destroy();
    const result = await load.stop();
    const wall = (Date.now() - t0) / 1000;

    const entries = (await history(rig, host, INSTANCE)).slice(logStart);
    const releases = entries.filter((e) => e.instant === false && e.result === "success");
    const rollback = entries[entries.length - 1];
    if (releases.length !== RELEASES || rollback.instant !== true || served !== rollbackTo) {
        throw new Error(
            `unexpected release log: ${JSON.stringify(entries.map((e) => [e.version, e.instant]))}`,
        );
    }
    const net = releases.map(
        (e) => Number(e.duration_s) - Number(e.pull_s) - Number(e.startup_s) - Number(e.drain_s),
    );
    const total = releases.map((e) => Number(e.duration_s));
    const failed = result.non2xx + result.errors;
    const slowFailed = slow.filter((o) => o !== "200");
    const drains = releases.map((e) => Number(e.drain_s));

    console.log(
        `load: autocannon ${CONNECTIONS} keep-alive connections for ${result.duration.toFixed(1)}s; ` +
            `${result.requests.total} requests (${Math.round(result.requests.average)}/s), ` +
            `non-2xx ${result.non2xx}, errors ${result.errors} (timeouts ${result.timeouts}), ` +
            `p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms, max ${result.latency.max} ms`,
    );
    console.log(
        `releases: median total ${median(total).toFixed(2)}s, median without pull, start-up and drain ` +
            `${median(net).toFixed(2)}s; rollback ${rollbackSeconds.toFixed(2)}s wall ` +
            `(${Number(rollback.duration_s).toFixed(2)}s on the host); run ${wall.toFixed(0)}s; ` +
            `load average ${load0.toFixed(2)} before, ${os.loadavg()[0].toFixed(2)} after, ${os.cpus().length} CPUs`,
    );
    const kinds = [...new Set(slowFailed)].map((k) => `${k} x${slowFailed.filter((o) => o === k).length}`);
    console.log(
        `slow: ${SLOW_CONNECTIONS} keep-alive connections of GET ${SLOW_PATH}: ${slow.length} requests, ` +
            `${slowFailed.length} failed${kinds.length ? ` (${kinds.join(", ")})` : ""}; drains: median ` +
            `${median(drains).toFixed(2)}s, longest ${Math.max(...drains).toFixed(2)}s, sessions left open ` +
            `${releases.reduce((n, e) => n + Number(e.drain_open), 0)}`,
    );
    await removeInstances(INSTANCE);
    console.log(
        `releases=${RELEASES} requests=${result.requests.total} failed=${failed} slow=${slow.length} ` +
            `slow_failed=${slowFailed.length} p99_ms=${result.latency.p99} ` +
            `release_s=${median(net).toFixed(2)} rollback_s=${rollbackSeconds.toFixed(2)}`,
    );
}

main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
});
