/**
 * npm run bench:canary — canary releases under constant load, on the real rig (testkit/rig-setup.sh).
 *
 * autocannon keeps 100 keep-alive connections busy through the proxy's public port while the
 * orchestrator, as `pulumi up` runs it, releases two versions as canaries with the same K steps
 * (5 %, 25 %, 50 %, BAKE seconds each): first a good one (2.0.0), which is promoted, then a bad one
 * (6.0.0-flaky: 5 % of its requests answer 500), which must be aborted at the first step. The last
 * line is:
 *
 *   steps=K requests=N failed=F bad_exposed=E abort_s=A promote_s=P
 *
 * N, F: requests over the whole run and those that failed (non-2xx or socket errors), as the
 * clients saw them. E: requests the bad version received (the proxy's own count for its server,
 * from the canary's start to its removal). A: wall time of the bad version's canary, from the
 * orchestrator's start to every host serving the stable version again (its colour drained and
 * removed); P: the same for the good version, to its promotion.
 */
import * as os from "os";
import {
    asHostUser,
    ensureRig,
    hostHome,
    installTool,
    releaseHosts,
    removeInstances,
    resetInstance,
    Rig,
    settingsFor,
    sleep,
    startLoad,
    status,
    target,
} from "../testkit/rig";
import { canarySettingsSchema } from "../components/deploy/orchestrator/canary-settings";
import { EXIT } from "../components/deploy/orchestrator/release";

const CONNECTIONS = 100;
const INSTANCE = "bgcanbench";
const PORT = 18780;
const BAKE = 10;
const STEPS = [5, 25, 50].map((weight) => ({ weight, bakeSeconds: BAKE }));

async function main(): Promise<void> {
    const r = await ensureRig();
    if (typeof r === "string") throw new Error(`the benchmark needs the rig: ${r}`);
    const rig: Rig = r;
    const host = rig.hosts[0];
    const settings = { ...settingsFor(rig, INSTANCE, PORT), drainSeconds: 10 };
    const canary = canarySettingsSchema.parse({ steps: STEPS, minRequests: 200, maxWaitSeconds: 60 });
    const release = (version: string, withCanary: boolean) =>
        releaseHosts(rig, target(rig, version), settings, {
            hosts: [host],
            batchSize: 1,
            ...(withCanary && { canary }),
        });

    /** Requests the proxy sent to one colour so far (HAProxy's stot), read as the host's admin. */
    const served = async (colour: string): Promise<number> => {
        const socket = `${hostHome(rig)}/.local/state/bluegreen/${INSTANCE}/proxy/admin.sock`;
        const out = await asHostUser(rig, `echo 'show stat app 4 -1' | socat stdio unix-connect:${socket}`);
        const lines = out.stdout.split("\n");
        const header = lines[0].replace(/^# /, "").split(",");
        const row = lines.find((l) => l.startsWith(`app,${colour},`))?.split(",");
        if (!row) throw new Error(`no show stat line for ${colour}: ${out.stdout}${out.stderr}`);
        return Number(row[header.indexOf("stot")]);
    };

    await removeInstances(INSTANCE);
    await resetInstance(rig, host, INSTANCE);
    if ((await installTool(rig, host)).code !== 0) throw new Error("cannot install the tool");
    const first = await release("1.0.0", false);
    if (first.code !== 0) throw new Error(`first release failed:\n${first.stderr}`);
    const load0 = os.loadavg()[0];

    const load = startLoad(PORT, CONNECTIONS);
    await sleep(2000);

    let t = Date.now();
    const good = await release("2.0.0", true);
    const promoteSeconds = (Date.now() - t) / 1000;
    if (good.code !== 0) {
        void load.stop();
        throw new Error(`the good version was not promoted (exit ${good.code}):\n${good.stderr}`);
    }
    const badColour = (await status(rig, host, INSTANCE)).active?.colour === "blue" ? "green" : "blue";
    const exposedBefore = await served(badColour);
    t = Date.now();
    const bad = await release("6.0.0-flaky", true);
    const abortSeconds = (Date.now() - t) / 1000;
    const exposed = (await served(badColour)) - exposedBefore;
    await sleep(2000);
    const result = await load.stop();
    if (bad.code !== EXIT.canary)
        throw new Error(`the bad version was not aborted (exit ${bad.code}):\n${bad.stderr}`);
    const now = await status(rig, host, INSTANCE);
    if (now.version !== "2.0.0") throw new Error(`after the abort the host serves ${now.version}`);
    const failed = result.non2xx + result.errors;
    const reason = /canary of 6\.0\.0-flaky failed at ([^;]*)/.exec(bad.stderr)?.[1] ?? "?";

    console.log(
        `load: autocannon ${CONNECTIONS} keep-alive connections for ${result.duration.toFixed(1)}s; ` +
            `${result.requests.total} requests (${Math.round(result.requests.average)}/s), non-2xx ${result.non2xx}, ` +
            `errors ${result.errors}; p99 ${result.latency.p99} ms; load average ${load0.toFixed(2)} before, ` +
            `${os.loadavg()[0].toFixed(2)} after, ${os.cpus().length} CPUs`,
    );
    console.log(
        `good 2.0.0: promoted after ${STEPS.length} steps of ${BAKE}s in ${promoteSeconds.toFixed(1)}s`,
    );
    console.log(
        `bad 6.0.0-flaky: aborted in ${abortSeconds.toFixed(1)}s at ${reason}; it received ${exposed} requests`,
    );
    await removeInstances(INSTANCE);
    console.log(
        `steps=${STEPS.length} requests=${result.requests.total} failed=${failed} bad_exposed=${exposed} ` +
            `abort_s=${abortSeconds.toFixed(1)} promote_s=${promoteSeconds.toFixed(1)}`,
    );
}

main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
});
