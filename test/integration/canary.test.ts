/**
 * Canary releases on the real rig, under load: two sshd hosts on loopback, each with its own tool
 * instance and HAProxy, driven by the orchestrator exactly as `pulumi up` runs it. The test app's
 * images: 2.0.0 (good), 6.0.0-flaky (5 % of requests to / answer 500), 7.0.0-slowdown (200 ms
 * more per request).
 */
import * as assert from "assert";
import {
    asHostUser,
    get,
    history,
    installTool,
    releaseHosts,
    removeInstances,
    requireRig,
    resetInstance,
    Rig,
    settingsFor,
    sleep,
    startLoad,
    target,
} from "../../testkit/rig";
import { HostReleaseSettings, HostTarget } from "../../components/deploy/host-commands";
import {
    canarySettingsSchema,
    CanarySettingsInput,
} from "../../components/deploy/orchestrator/canary-settings";
import { EXIT } from "../../components/deploy/orchestrator/release";

const PREFIX = "bgcan";
const PORT_A = 18740;
const PORT_B = 18750;
/** The flaky image's share of 500s (testkit/app: errorPercent). */
const ERROR_RATE = 0.05;

describe("canary releases on real hosts, under load (integration)", function () {
    this.timeout(300_000);
    let rig: Rig;
    let hosts: HostTarget[];
    let settings: HostReleaseSettings;
    const hostArgs = () => ({
        [hosts[1].name]: [
            ...["--instance", `${PREFIX}-b`, "--public-port", String(PORT_B)],
            ...["--blue-port", String(PORT_B + 1), "--green-port", String(PORT_B + 2)],
            ...["--metrics-port", String(PORT_B + 5)],
        ],
    });

    before(async function () {
        this.timeout(600_000);
        rig = await requireRig(this);
        hosts = rig.hosts.slice(0, 2);
        await removeInstances(PREFIX);
        for (const h of hosts) assert.strictEqual((await installTool(rig, h)).code, 0);
        settings = { ...settingsFor(rig, `${PREFIX}-a`, PORT_A), drainSeconds: 5, metricsPort: PORT_A + 5 };
    });
    after(async () => {
        if (rig) await removeInstances(PREFIX);
    });

    /** Both hosts on 1.0.0, released blue-green. */
    async function stable(): Promise<void> {
        await resetInstance(rig, hosts[0], `${PREFIX}-a`);
        await resetInstance(rig, hosts[1], `${PREFIX}-b`);
        const r = await releaseHosts(rig, target(rig, "1.0.0"), settings, {
            hosts,
            batchSize: 2,
            hostArgs: hostArgs(),
        });
        assert.strictEqual(r.code, 0, r.stderr);
    }

    function canary(version: string, c: CanarySettingsInput) {
        return releaseHosts(rig, target(rig, version), settings, {
            hosts,
            batchSize: 1,
            hostArgs: hostArgs(),
            canary: canarySettingsSchema.parse(c),
        });
    }

    /** Load on both hosts' proxies while `during` runs; what the clients saw. */
    async function underLoad<T>(
        during: () => Promise<T>,
    ): Promise<{ value: T; total: number; failed: number }> {
        const loads = [PORT_A, PORT_B].map((port) => startLoad(port, 10));
        await sleep(500);
        const value = await during();
        const results = await Promise.all(loads.map((l) => l.stop()));
        return {
            value,
            total: results.reduce((n, r) => n + r.requests.total, 0),
            failed: results.reduce((n, r) => n + r.non2xx + r.errors, 0),
        };
    }

    /** The versions 20 requests to a host's proxy were answered by. */
    async function answeredBy(port: number): Promise<Set<string>> {
        const seen = new Set<string>();
        for (let i = 0; i < 20; i++) seen.add((await get(port, "/version")).body);
        return seen;
    }

    async function everyHostServes(version: string): Promise<void> {
        assert.deepStrictEqual([...(await answeredBy(PORT_A))], [version], "host A");
        assert.deepStrictEqual([...(await answeredBy(PORT_B))], [version], "host B");
    }

    it("a good version passes every step and is promoted on both hosts, no request failing", async () => {
        await stable();
        const {
            value: r,
            total,
            failed,
        } = await underLoad(() =>
            canary("2.0.0", {
                steps: [
                    { weight: 5, bakeSeconds: 3 },
                    { weight: 50, bakeSeconds: 3 },
                ],
                minRequests: 50,
                maxWaitSeconds: 30,
            }),
        );
        assert.strictEqual(r.code, 0, r.stderr);
        assert.match(r.stderr, /step 1\/2 \(5%\) passed: new version: 0 errors in \d+ requests/);
        assert.match(r.stderr, /step 2\/2 \(50%\) passed/);
        assert.strictEqual(failed, 0, `${failed} of ${total} requests failed`);
        await everyHostServes("2.0.0");
        // What the analysis read, each proxy also serves in Prometheus format on loopback.
        for (const port of [PORT_A + 5, PORT_B + 5]) {
            const metrics = await get(port, "/metrics");
            assert.strictEqual(metrics.status, 200);
            assert.match(
                metrics.body,
                /^haproxy_server_http_responses_total\{proxy="app",server="green",code="2xx"\} [1-9]\d*$/m,
            );
            assert.match(metrics.body, /^haproxy_server_current_sessions\{proxy="app",server="blue"\} \d+$/m);
        }
        const log = (await history(rig, hosts[0], `${PREFIX}-a`)).slice(-2);
        assert.deepStrictEqual(
            log.map((e) => e.result),
            ["canary", "success"],
        );
    });

    it("rollback after a promotion is instant: the stable colour was retained", async () => {
        const started = Date.now();
        const r = await releaseHosts(rig, target(rig, "1.0.0"), settings, {
            hosts,
            batchSize: 2,
            hostArgs: hostArgs(),
        });
        const seconds = (Date.now() - started) / 1000;
        assert.strictEqual(r.code, 0, r.stderr);
        await everyHostServes("1.0.0");
        for (const [h, instance] of [
            [hosts[0], `${PREFIX}-a`],
            [hosts[1], `${PREFIX}-b`],
        ] as const) {
            const last = (await history(rig, h, instance)).pop()!;
            assert.strictEqual(last.instant, true, JSON.stringify(last));
            assert.strictEqual(last.pull_s, 0);
        }
        assert.ok(seconds < 6, `rollback of two hosts took ${seconds}s`);
    });

    it("a version failing 5 % of requests is aborted at the first step; clients saw at most weight x error rate fail", async () => {
        await stable();
        const first = 5;
        const {
            value: r,
            total,
            failed,
        } = await underLoad(() =>
            canary("6.0.0-flaky", {
                steps: [
                    { weight: first, bakeSeconds: 5 },
                    { weight: 50, bakeSeconds: 5 },
                ],
                minRequests: 200,
                maxWaitSeconds: 60,
            }),
        );
        assert.strictEqual(r.code, EXIT.canary, r.stderr);
        assert.match(
            r.stderr,
            /canary of 6\.0\.0-flaky failed at step 1\/2 \(5%\): error ratio [0-9.]+% is more than 1\.00 points above the stable version's 0\.00% \(new version: \d+ errors in \d+ requests/,
        );
        assert.match(r.stderr, /every host serves its previous version/);
        assert.doesNotMatch(r.stderr, /step 2\/2 \(50%\): baking/);
        await everyHostServes("1.0.0");
        // The bound: the new version took `first` % of requests and failed 5 % of those, and only
        // while the canary ran (the load also ran before and after it). Tolerance: 20 % over it,
        // for the weights' rounding across two proxies.
        const bound = (first / 100) * ERROR_RATE;
        const share = failed / total;
        console.log(
            `      clients saw ${failed} of ${total} requests fail (${(100 * share).toFixed(3)}%; bound ${(100 * bound).toFixed(3)}% + 20%)`,
        );
        assert.ok(failed > 0, "the bad version served no request at all");
        assert.ok(share <= bound * 1.2, `share ${share} above the bound ${bound}`);
        for (const instance of [`${PREFIX}-a`, `${PREFIX}-b`]) {
            const last = (await history(rig, hosts[0], instance)).pop()!;
            assert.strictEqual(last.result, "aborted");
        }
    });

    it("a version 200 ms slower is aborted on latency", async () => {
        await stable();
        const { value: r } = await underLoad(() =>
            canary("7.0.0-slowdown", {
                steps: [{ weight: 10, bakeSeconds: 4 }],
                minRequests: 20,
                maxWaitSeconds: 60,
            }),
        );
        assert.strictEqual(r.code, EXIT.canary, r.stderr);
        assert.match(
            r.stderr,
            /failed at step 1\/1 \(10%\): average response time \d+ ms is more than 1\.5 times and 50 ms above the stable version's \d+ ms/,
        );
        await everyHostServes("1.0.0");
    });

    it("a host that fails mid-canary (its canary record lost): every host ends on the stable version", async () => {
        await stable();
        const { value: r, failed } = await underLoad(async () => {
            const run = canary("2.0.0", {
                steps: [
                    { weight: 20, bakeSeconds: 6 },
                    { weight: 50, bakeSeconds: 3 },
                ],
                minRequests: 20,
            });
            // Host B loses its canary record during the first bake: its next step fails.
            const file = `.local/state/bluegreen/${PREFIX}-b/canary`;
            for (let i = 0; i < 40; i++) {
                await sleep(250);
                if ((await asHostUser(rig, `test -f ${file}`)).code === 0) break;
            }
            const rm = await asHostUser(rig, `rm ${file}`);
            assert.strictEqual(rm.code, 0, rm.stderr);
            return run;
        });
        assert.strictEqual(r.code, 2, r.stderr);
        assert.match(
            r.stderr,
            /canary of 2\.0\.0: reading the proxy's counters failed on host-b \(exit 2\): no canary runs on instance bgcan-b/,
        );
        assert.match(r.stderr, /every host serves its previous version/);
        await everyHostServes("1.0.0");
        assert.strictEqual(failed, 0, "no request failed");
    });
});
