/**
 * A fleet of 20 hosts through the orchestrator (components/deploy/orchestrator, run as the Pulumi
 * component runs it): 20 sshd hosts on loopback (testkit/fleet-setup.sh), each with its own host
 * key, tool instance, proxy, ports, lock and release log, released in batches of 5.
 */
import * as assert from "assert";
import * as fs from "fs";
import { HostReleaseSettings } from "../../components/deploy/host-commands";
import { parseSummary } from "../../components/deploy/orchestrator/summary";
import {
    fleetHostArgs,
    FleetMember,
    fleetMembers,
    get,
    holdReleaseLock,
    installTool,
    releaseHosts,
    releaseLog,
    removeInstances,
    requireRig,
    instanceStateDir,
    Rig,
    settingsFor,
    startFleet,
    stopFleetHost,
    target,
} from "../../testkit/rig";

const PREFIX = "bgfl";
/** fleet-01's proxy listens here, fleet-02's 10 ports above, ... (19000-19192). */
const BASE_PORT = 19000;
const HOSTS = 20;
const BATCH = 5;

describe("a fleet of 20 hosts, in batches of 5, through the orchestrator (integration)", function () {
    this.timeout(180_000);
    let rig: Rig;
    let members: FleetMember[];
    let settings: HostReleaseSettings;

    const release = (version: string, batchSize = BATCH) =>
        releaseHosts(rig, target(rig, version), settings, {
            hosts: members.map((m) => m.host),
            batchSize,
            hostArgs: fleetHostArgs(members),
        });
    const served = () => Promise.all(members.map(async (m) => (await get(m.publicPort, "/version")).body));
    const logs = () => members.map((m) => releaseLog(rig, m.instance));
    /** What each host recorded since `since` (an earlier logs()), as version:result:instant. */
    const recordedSince = (since: unknown[][]) =>
        logs().map((entries, i) =>
            entries.slice(since[i].length).map((e) => `${e.version}:${e.result}:${e.instant}`),
        );
    const named = (n: number) => `fleet-${String(n).padStart(2, "0")}`;

    before(async function () {
        this.timeout(600_000);
        rig = await requireRig(this);
        members = fleetMembers(await startFleet(HOSTS), PREFIX, BASE_PORT);
        await removeInstances(PREFIX);
        // removeInstances took the containers and networks: what is left of each instance is its state.
        for (const m of members)
            fs.rmSync(instanceStateDir(rig, m.instance), { recursive: true, force: true });
        // The fleet's hosts share the deploy user's home: one install serves them all.
        assert.strictEqual((await installTool(rig, members[0].host)).code, 0);
        settings = settingsFor(rig, members[0].instance, BASE_PORT);
        const first = await release("1.0.0", HOSTS);
        assert.strictEqual(first.code, 0, first.stderr);
    });
    after(async () => {
        if (!rig) return;
        await removeInstances(PREFIX);
        await startFleet(HOSTS);
    });

    it("switches all 20 hosts, a batch of 5 at a time, each batch after the one before has ended", async () => {
        const since = logs();
        const r = await release("2.0.0");
        assert.strictEqual(r.code, 0, r.stderr);
        const digest = rig.appDigests["2.0.0"];
        assert.deepStrictEqual(parseSummary(r.stdout), {
            version: "2.0.0",
            digest,
            // Each host's first release (1.0.0, in before) went to blue; 2.0.0 went to green.
            hosts: Object.fromEntries(
                members.map((m) => [m.host.name, { version: "2.0.0", digest, colour: "green" }]),
            ),
        });
        assert.deepStrictEqual(await served(), Array(HOSTS).fill("2.0.0"));
        const entries = logs().map((e, i) => e.slice(since[i].length));
        entries.forEach((e, i) =>
            assert.deepStrictEqual(
                e.map((x) => `${x.version}:${x.result}`),
                ["2.0.0:success"],
                members[i].host.name,
            ),
        );
        // Each host's release started after every release of the batch before had ended.
        const end = (i: number) => Date.parse(String(entries[i][0].time));
        const start = (i: number) => end(i) - Number(entries[i][0].duration_s) * 1000;
        for (let b = 1; b < HOSTS / BATCH; b++) {
            const earlier = Array.from({ length: BATCH }, (_, j) => end((b - 1) * BATCH + j));
            const firstStart = Math.min(...Array.from({ length: BATCH }, (_, j) => start(b * BATCH + j)));
            assert.ok(
                firstStart >= Math.max(...earlier) - 50,
                `batch ${b + 1} started ${Math.max(...earlier) - firstStart} ms before batch ${b} ended`,
            );
        }
    });

    it("a failure on host 17: every host that switched goes back, host 17 never switched", async () => {
        const since = logs();
        const free = await holdReleaseLock(rig, members[16]);
        let r;
        try {
            r = await release("2.1.0");
        } finally {
            await free();
        }
        // The tool's exit code passes through: 3, the lock is held.
        assert.strictEqual(r.code, 3, r.stderr);
        // Hosts 16 to 20 are one batch: 16, 18, 19 and 20 switched alongside 17 and went back too.
        const others = members.filter((_, i) => i !== 16).map((m) => m.host.name);
        assert.match(
            r.stderr,
            new RegExp(
                `release of 2\\.1\\.0 failed on fleet-17: another release holds the lock.*; ` +
                    `switched ${others.join(" ")} back to their previous version`,
            ),
        );
        assert.deepStrictEqual(await served(), Array(HOSTS).fill("2.0.0"));
        const recorded = recordedSince(since);
        recorded.forEach((e, i) =>
            assert.deepStrictEqual(
                e,
                i === 16 ? ["2.1.0:failed:false"] : ["2.1.0:success:false", "2.0.0:success:true"],
                members[i].host.name,
            ),
        );
    });

    it("a failure on host 12: the batches after its own are never touched", async () => {
        const since = logs();
        const free = await holdReleaseLock(rig, members[11]);
        let r;
        try {
            r = await release("2.1.0");
        } finally {
            await free();
        }
        assert.strictEqual(r.code, 3, r.stderr);
        assert.match(r.stderr, /release of 2\.1\.0 failed on fleet-12: another release holds the lock/);
        assert.doesNotMatch(r.stderr, /releasing 2\.1\.0 on fleet-16/);
        assert.deepStrictEqual(await served(), Array(HOSTS).fill("2.0.0"));
        const recorded = recordedSince(since);
        recorded.forEach((e, i) => {
            const expected =
                i === 11
                    ? ["2.1.0:failed:false"]
                    : i >= 15
                      ? []
                      : ["2.1.0:success:true", "2.0.0:success:true"];
            // Hosts 1-15 switched to the 2.1.0 they retained from the test before, and back.
            assert.deepStrictEqual(e, expected, named(i + 1));
        });
    });

    it("a host unreachable before the release (its sshd stopped) fails it before any host switches", async () => {
        const since = logs();
        const last = members[HOSTS - 1].host;
        await stopFleetHost(last);
        let r;
        try {
            r = await release("2.1.0");
        } finally {
            await startFleet(HOSTS);
        }
        assert.strictEqual(r.code, 9, r.stderr);
        assert.match(
            r.stderr,
            new RegExp(
                `cannot check fleet-20 \\(127\\.0\\.0\\.1:${last.port}\\) as bgdeploy; nothing was changed on any host: ` +
                    `.*Connection refused`,
            ),
        );
        assert.doesNotMatch(r.stderr, /releasing/);
        assert.deepStrictEqual(recordedSince(since), Array(HOSTS).fill([]));
        assert.deepStrictEqual(await served(), Array(HOSTS).fill("2.0.0"));
    });
});
