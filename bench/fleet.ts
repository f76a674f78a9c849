/**
 * npm run bench:fleet — a release to a fleet of 20 hosts in batches of 5, on the real rig: 20 sshd
 * hosts on loopback (testkit/fleet-setup.sh), each with its own host key, tool instance, proxy and
 * ports, released by the orchestrator (components/deploy/orchestrator) run exactly as the Pulumi
 * component runs it (`node -` with its one-text script, testkit/rig.ts runOrchestrator).
 *
 * Light load throughout: one keep-alive connection per host at 20 requests/s against every host's
 * proxy (autocannon). Then, with the release settings' defaults (health 3 × 500 ms) and lock
 * timeout 0:
 *   O  one host: the orchestrator releasing a new version to fleet-01 alone, wall time, median of 3;
 *   R  the fleet: the orchestrator releasing a new version to all 20 hosts, 5 at a time, wall time;
 *   B  a failure on host 17: its instance's lock is held by another process (as by a release started
 *      there by hand), so its release fails at once (exit 3); every host that switched (the other
 *      four of its batch and the three batches before) is switched back. B is the switch-back: from
 *      the orchestrator's report of the failure to its exit with every switched host back.
 *   F  requests that failed over the whole run (non-2xx and socket errors, timeouts included).
 * Every release starts a new container (a version that is neither live nor retained on the host);
 * the switch-back is an instant switch to the retained colour. The last line is:
 *
 *   hosts=20 batch=5 release_s=R one_host_s=O fleet_rollback_s=B failed=F
 *
 * The 20 hosts share this machine's CPUs and one Docker Engine: an image is pulled once for all.
 */
import autocannon from "autocannon";
import * as fs from "fs";
import * as os from "os";
import { hostDefaults } from "../components/deploy/host-facts";
import { orchestratorArgs, ReleaseTarget } from "../components/deploy/host-commands";
import {
    ensureRig,
    fleetHostArgs,
    FleetMember,
    fleetMembers,
    get,
    holdReleaseLock,
    installTool,
    releaseLog,
    removeInstances,
    instanceStateDir,
    Rig,
    runOrchestrator,
    settingsFor,
    sleep,
    startFleet,
    target,
} from "../testkit/rig";

const HOSTS = 20;
const BATCH = 5;
/** The host whose release fails, from 1. */
const FAILING = 17;
const PREFIX = "bgfleet";
/** fleet-01's proxy listens here, fleet-02's 10 ports above, ... (19200-19392). */
const BASE_PORT = 19200;
const RATE_PER_HOST = 20;

const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    const m = Math.floor(s.length / 2);
    return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const secs = (ms: number) => (ms / 1000).toFixed(2);

/** One orchestrator run: its exit code, wall time, and each stderr line with when it arrived. */
interface Run {
    readonly code: number | null;
    readonly stderr: string;
    readonly ms: number;
    readonly lines: { at: number; line: string }[];
}

async function main(): Promise<void> {
    const r = await ensureRig();
    if (typeof r === "string") throw new Error(`the benchmark needs the rig: ${r}`);
    const rig: Rig = r;
    const members = fleetMembers(await startFleet(HOSTS), PREFIX, BASE_PORT);
    const settings = {
        ...settingsFor(rig, members[0].instance, BASE_PORT),
        health: { ...hostDefaults.health },
        lockTimeoutSeconds: 0,
    };
    const hostArgs = fleetHostArgs(members);

    const release = async (t: ReleaseTarget, on: readonly FleetMember[], batchSize: number): Promise<Run> => {
        const args = orchestratorArgs(t, settings, {
            user: rig.user,
            keyFile: rig.privateKeyFile,
            hosts: on.map((m) => m.host),
            batchSize,
            hostArgs: Object.fromEntries(on.map((m) => [m.host.name, hostArgs[m.host.name]])),
        });
        const lines: { at: number; line: string }[] = [];
        const started = Date.now();
        const res = await runOrchestrator(args, undefined, {
            onStderr: (chunk) =>
                chunk
                    .split("\n")
                    .filter(Boolean)
                    .forEach((line) => lines.push({ at: Date.now() - started, line })),
        });
        return { code: res.code, stderr: res.stderr, ms: Date.now() - started, lines };
    };
    const served = async () =>
        Promise.all(members.map(async (m) => (await get(m.publicPort, "/version")).body));

    await removeInstances(PREFIX);
    // removeInstances took the containers and networks: what is left of each instance is its state.
    for (const m of members) fs.rmSync(instanceStateDir(rig, m.instance), { recursive: true, force: true });
    if ((await installTool(rig, members[0].host)).code !== 0) throw new Error("cannot install the tool");
    const first = await release(target(rig, "1.0.0"), members, BATCH);
    if (first.code !== 0) throw new Error(`first release failed:\n${first.stderr}`);
    console.log(`first release of 1.0.0 to ${HOSTS} hosts (each starts its proxy): ${secs(first.ms)}s`);

    const load0 = os.loadavg()[0];
    const cannons = members.map(
        (m) =>
            new Promise<autocannon.Result>((resolve, reject) => {
                const c = autocannon(
                    {
                        url: `http://127.0.0.1:${m.publicPort}/`,
                        connections: 1,
                        overallRate: RATE_PER_HOST,
                        duration: 3600,
                        timeout: 10,
                    },
                    (err, result) => (err ? reject(err) : resolve(result)),
                );
                stops.push(() => c.stop());
            }),
    );
    await sleep(2000);

    // O: one host, three new versions in turn (each neither live nor retained there).
    const one: number[] = [];
    const oneStart = releaseLog(rig, members[0].instance).length;
    for (const version of ["2.0.0", "2.1.0", "1.0.0"]) {
        const run = await release(target(rig, version), [members[0]], 1);
        if (run.code !== 0) throw new Error(`one-host release of ${version} failed:\n${run.stderr}`);
        one.push(run.ms);
        console.log(`one host: ${version} on ${members[0].host.name} in ${secs(run.ms)}s`);
    }

    const oneHost = releaseLog(rig, members[0].instance)
        .slice(oneStart)
        .map((e) => Number(e.duration_s));
    console.log(`  on the host (median of 3): release ${median(oneHost).toFixed(2)}s`);

    // R: the fleet, a new version on every host.
    const logStart = members.map((m) => releaseLog(rig, m.instance).length);
    const fleet = await release(target(rig, "2.0.0"), members, BATCH);
    if (fleet.code !== 0) throw new Error(`fleet release failed:\n${fleet.stderr}`);
    const after = await served();
    if (after.some((v) => v !== "2.0.0")) throw new Error(`after the fleet release: ${after.join(" ")}`);
    console.log(`fleet: 2.0.0 on ${HOSTS} hosts, ${BATCH} at a time, in ${secs(fleet.ms)}s`);
    await profile(rig, members, fleet, logStart);

    // B: a failure on host FAILING.
    const failing = members[FAILING - 1];
    const failStart = members.map((m) => releaseLog(rig, m.instance).length);
    const free = await holdReleaseLock(rig, failing);
    let failed: Run;
    try {
        failed = await release(target(rig, "2.1.0"), members, BATCH);
    } finally {
        await free();
    }
    if (failed.code !== 3)
        throw new Error(`expected the lock's exit 3, got ${failed.code}:\n${failed.stderr}`);
    const reported = failed.lines.find((l) => l.line.includes(`failed on ${failing.host.name}`));
    if (reported === undefined)
        throw new Error(`no failure reported for ${failing.host.name}:\n${failed.stderr}`);
    const back = await served();
    if (back.some((v) => v !== "2.0.0")) throw new Error(`after the failed release: ${back.join(" ")}`);
    // Every host but the failing one switched to 2.1.0 and back to 2.0.0 (its retained colour);
    // the failing one recorded its failure and nothing else.
    for (const [i, m] of members.entries()) {
        const entries = releaseLog(rig, m.instance)
            .slice(failStart[i])
            .map((e) => `${e.version}:${e.result}:${e.instant}`);
        const expected =
            m === failing ? ["2.1.0:failed:false"] : ["2.1.0:success:false", "2.0.0:success:true"];
        if (JSON.stringify(entries) !== JSON.stringify(expected)) {
            throw new Error(`${m.host.name} recorded ${entries.join(", ")}; expected ${expected.join(", ")}`);
        }
    }
    const switchBack = failed.ms - reported.at;
    console.log(
        `failure on ${failing.host.name}: the run took ${secs(failed.ms)}s; ${HOSTS - 1} hosts switched back ` +
            `to 2.0.0 in ${secs(switchBack)}s after the failure was reported; every host serves 2.0.0`,
    );

    await sleep(1000);
    stops.forEach((stop) => stop());
    const results = await Promise.all(cannons);
    const requests = results.reduce((n, x) => n + x.requests.total, 0);
    const failedRequests = results.reduce((n, x) => n + x.non2xx + x.errors, 0);
    const p99 = Math.max(...results.map((x) => x.latency.p99));
    console.log(
        `load: ${HOSTS} proxies, 1 connection and ${RATE_PER_HOST} requests/s each; ${requests} requests, ` +
            `failed ${failedRequests}, worst host's p99 ${p99} ms; load average ${load0.toFixed(2)} before, ` +
            `${os.loadavg()[0].toFixed(2)} after, ${os.cpus().length} CPUs`,
    );
    await removeInstances(PREFIX);
    console.log(
        `hosts=${HOSTS} batch=${BATCH} release_s=${secs(fleet.ms)} one_host_s=${secs(median(one))} ` +
            `fleet_rollback_s=${secs(switchBack)} failed=${failedRequests}`,
    );
}

const stops: (() => void)[] = [];

/** Where the fleet release's time went: the check, each batch, and the host-side steps. */
async function profile(
    rig: Rig,
    members: readonly FleetMember[],
    run: Run,
    logStart: number[],
): Promise<void> {
    const at = (pattern: RegExp) => run.lines.filter((l) => pattern.test(l.line)).map((l) => l.at);
    const checked = at(/^release-hosts: \S+ serves /);
    const batches = at(/^release-hosts: releasing /);
    const spans = batches.map((start, i) => (batches[i + 1] ?? run.ms) - start);
    console.log(
        `  check of ${members.length} hosts done at ${secs(Math.max(...checked))}s; batches took ` +
            `${spans.map(secs).join(" ")}s`,
    );
    const entries = members.map((m, i) => releaseLog(rig, m.instance).slice(logStart[i]));
    const field = (name: string) => entries.flat().map((e) => Number(e[name]));
    const total = field("duration_s");
    console.log(
        `  on each host (median of ${total.length}): release ${median(total).toFixed(2)}s, of which pull ` +
            `${median(field("pull_s")).toFixed(2)}s, start until healthy ${median(field("startup_s")).toFixed(2)}s`,
    );
}

main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    stops.forEach((stop) => stop());
    process.exit(1);
});
