/**
 * Several hosts per stack, through the orchestrator (components/deploy/orchestrator, which the Pulumi component runs):
 * two sshd hosts on loopback, each with its own host key, tool instance, ports, lock and log.
 */
import * as assert from "assert";
import * as net from "net";
import {
    get,
    history,
    installTool,
    releaseHosts,
    removeInstances,
    requireRig,
    resetInstance,
    Rig,
    runOrchestrator,
    settingsFor,
    target,
} from "../../testkit/rig";
import { HostReleaseSettings, HostTarget } from "../../components/deploy/host-commands";
import { parseSummary } from "../../components/deploy/orchestrator/summary";

const PREFIX = "bgmh";

/** A loopback port nothing listens on. */
function unusedPort(): Promise<number> {
    return new Promise((resolve) => {
        const server = net.createServer().listen(0, "127.0.0.1", () => {
            const port = (server.address() as net.AddressInfo).port;
            server.close(() => resolve(port));
        });
    });
}

describe("multi-host release through the orchestrator (integration)", function () {
    this.timeout(180_000);
    let rig: Rig;
    let hostA: HostTarget;
    let hostB: HostTarget;
    let settings: HostReleaseSettings;
    /** Host B shares the machine with host A: its own instance and ports. */
    const hostBArgs = [
        "--instance",
        `${PREFIX}-b`,
        "--public-port",
        "18310",
        "--blue-port",
        "18311",
        "--green-port",
        "18312",
    ];

    before(async function () {
        this.timeout(600_000);
        rig = await requireRig(this);
        [hostA, hostB] = rig.hosts;
        await removeInstances(PREFIX);
        for (const h of [hostA, hostB]) {
            assert.strictEqual((await installTool(rig, h)).code, 0);
        }
        await resetInstance(rig, hostA, `${PREFIX}-a`);
        await resetInstance(rig, hostB, `${PREFIX}-b`);
        settings = settingsFor(rig, `${PREFIX}-a`, 18300);
    });
    after(async () => {
        if (rig) await removeInstances(PREFIX);
    });

    const servedA = async () => (await get(18300, "/version")).body;
    const servedB = async () => (await get(18310, "/version")).body;

    it("releases the hosts one after another and reports each host's live version", async () => {
        const r = await releaseHosts(rig, target(rig, "1.0.0"), settings, {
            hosts: [hostA, hostB],
            batchSize: 1,
            hostArgs: { [hostB.name]: hostBArgs },
        });
        assert.strictEqual(r.code, 0, r.stderr);
        const summary = parseSummary(r.stdout);
        const digest = rig.appDigests["1.0.0"];
        assert.deepStrictEqual(summary, {
            version: "1.0.0",
            digest,
            // A first release starts the blue colour.
            hosts: {
                [hostA.name]: { version: "1.0.0", digest, colour: "blue" },
                [hostB.name]: { version: "1.0.0", digest, colour: "blue" },
            },
        });
        assert.strictEqual(await servedA(), "1.0.0");
        assert.strictEqual(await servedB(), "1.0.0");
        // Batch size 1: host B's release started after host A's had finished.
        const [a] = await history(rig, hostA, `${PREFIX}-a`);
        const [b] = await history(rig, hostB, `${PREFIX}-b`);
        const endA = Date.parse(String(a.time));
        const startB = Date.parse(String(b.time)) - Number(b.duration_s) * 1000;
        assert.ok(startB >= endA - 50, `host B started ${endA - startB}ms before host A finished`);
    });

    it("if one host fails, the hosts already switched go back: both end on the old version", async () => {
        const failingB = [...hostBArgs, "--health-successes", "100", "--health-timeout", "2"];
        const r = await releaseHosts(rig, target(rig, "2.0.0"), settings, {
            hosts: [hostA, hostB],
            batchSize: 1,
            hostArgs: { [hostB.name]: failingB },
        });
        // The host tool's exit code passes through: 5, the new colour never became healthy.
        assert.strictEqual(r.code, 5, r.stderr);
        assert.match(r.stderr, /release of 2\.0\.0 failed on host-b: .*did not pass GET \/health 100 times/);
        assert.match(r.stderr, /switched host-a back to their previous version/);
        assert.strictEqual(await servedA(), "1.0.0");
        assert.strictEqual(await servedB(), "1.0.0");
        const a = (await history(rig, hostA, `${PREFIX}-a`)).map(
            (e) => `${e.version}:${e.result}:${e.instant}`,
        );
        assert.deepStrictEqual(a.slice(-2), ["2.0.0:success:false", "1.0.0:success:true"]);
    });

    it("releases a batch of two in parallel", async () => {
        const r = await releaseHosts(rig, target(rig, "2.0.0"), settings, {
            hosts: [hostA, hostB],
            batchSize: 2,
            hostArgs: { [hostB.name]: hostBArgs },
        });
        assert.strictEqual(r.code, 0, r.stderr);
        assert.strictEqual(await servedA(), "2.0.0");
        assert.strictEqual(await servedB(), "2.0.0");
    });

    for (const [what, message] of [
        ["an unreachable host", /Connection refused/],
        ["a wrong host key", /Host key verification failed/],
    ] as const) {
        it(`${what}: a clear error before any host is changed`, async () => {
            const bad =
                what === "a wrong host key"
                    ? { ...hostB, hostKey: rig.wrongHostKey }
                    : { ...hostB, port: await unusedPort() };
            const before = (await history(rig, hostA, `${PREFIX}-a`)).length;
            const r = await releaseHosts(rig, target(rig, "1.0.0"), settings, {
                hosts: [hostA, bad],
                batchSize: 1,
                hostArgs: { [hostB.name]: hostBArgs },
            });
            assert.strictEqual(r.code, 9, r.stderr);
            assert.match(
                r.stderr,
                /cannot check host-b \(127\.0\.0\.1:\d+\) as bgdeploy; nothing was changed on any host/,
            );
            assert.match(r.stderr, message);
            assert.strictEqual((await history(rig, hostA, `${PREFIX}-a`)).length, before);
            assert.strictEqual(await servedA(), "2.0.0");
        });
    }

    it("rejects an injection attempt in the version before connecting anywhere", async () => {
        assert.throws(
            () =>
                releaseHosts(rig, { ...target(rig, "1.0.0"), version: "1.0;rm -rf /" }, settings, {
                    hosts: [hostA],
                    batchSize: 1,
                }),
            /invalid version/,
        );
        // The orchestrator checks again on its own.
        const r = await runOrchestrator([
            ...["--user", rig.user, "--key-file", rig.privateKeyFile, "--image", rig.appImage],
            ...["--version", "1.0;rm -rf /", "--digest", rig.appDigests["1.0.0"]],
            ...["--host", `${hostA.name} ${hostA.address} ${hostA.port} ${hostA.hostKey}`],
        ]);
        assert.strictEqual(r.code, 2);
        assert.match(r.stderr, /invalid version "1\.0;rm -rf \/"/);
    });
});
