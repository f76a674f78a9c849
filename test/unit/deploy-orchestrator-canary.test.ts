/**
 * The canary release (components/deploy/orchestrator/canary.ts): the analysis as a pure function of
 * the proxies' counters, and the step loop against a fake transport that plays the hosts as
 * host/bluegreen's canary-* commands do (their status and stats lines, exit codes, `error:` lines),
 * with a traffic model that adds requests to each host's proxy counters as (fake) time passes.
 */
import * as assert from "assert";
import type { HostTarget } from "../../components/deploy/host-commands";
import { orchestratorArgs } from "../../components/deploy/host-commands";
import {
    canaryRelease,
    CanaryStats,
    Clock,
    judge,
    Thresholds,
    windowOf,
} from "../../components/deploy/orchestrator/canary";
import { canaryDefaults, canarySettingsSchema } from "../../components/deploy/orchestrator/canary-settings";
import { parseArgs } from "../../components/deploy/orchestrator/cli";
import {
    EXIT,
    HostResult,
    OrchestratorError,
    ReleasePlan,
    Transport,
} from "../../components/deploy/orchestrator/release";

const digest = (c: string) => `sha256:${c.repeat(64)}`;
const IMAGE = "registry.example.com/acme/web-app";
const OLD = { image: IMAGE, version: "1.0.0", digest: digest("a") };
const NEW = { image: IMAGE, version: "2.0.0", digest: digest("b") };
const thresholds: Thresholds = {
    maxErrorRatio: 0.01,
    maxLatencyRatio: 1.5,
    maxLatencyIncreaseMs: 50,
    minRequests: 100,
    maxWaitSeconds: 60,
};

const side = (requests: number, errors: number, responseMs: number) => ({ requests, errors, responseMs });

describe("deploy: the canary analysis judges the new version by the proxy's own counters", () => {
    it("passes a version as good as the stable one", () => {
        const v = judge({ canary: side(200, 1, 12), stable: side(3800, 15, 10) }, thresholds);
        assert.strictEqual(v.outcome, "pass", v.message);
        assert.strictEqual(
            v.message,
            "new version: 1 errors in 200 requests (0.50%), 12 ms average response; stable: 15 errors in 3800 requests (0.39%), 10 ms",
        );
    });

    it("fails 5 % errors against none, with the measured figures", () => {
        const v = judge({ canary: side(200, 10, 1), stable: side(3800, 0, 1) }, thresholds);
        assert.strictEqual(v.outcome, "fail");
        assert.match(
            v.message,
            /^error ratio 5\.00% is more than 1\.00 points above the stable version's 0\.00% \(new version: 10 errors in 200 requests/,
        );
    });

    it("judges errors against the stable version's: both at 5 % pass", () => {
        assert.strictEqual(
            judge({ canary: side(200, 10, 1), stable: side(4000, 200, 1) }, thresholds).outcome,
            "pass",
        );
    });

    it("fails on latency only when both the ratio and the milliseconds are exceeded", () => {
        assert.strictEqual(
            judge({ canary: side(200, 0, 250), stable: side(4000, 0, 2) }, thresholds).outcome,
            "fail",
        );
        assert.match(
            judge({ canary: side(200, 0, 250), stable: side(4000, 0, 2) }, thresholds).message,
            /^average response time 250 ms is more than 1\.5 times and 50 ms above the stable version's 2 ms/,
        );
        // 3 ms against 1 ms: three times slower, but 2 ms do not matter.
        assert.strictEqual(
            judge({ canary: side(200, 0, 3), stable: side(4000, 0, 1) }, thresholds).outcome,
            "pass",
        );
        // 1100 ms against 1000 ms: 100 ms slower, but within the ratio.
        assert.strictEqual(
            judge({ canary: side(200, 0, 1100), stable: side(4000, 0, 1000) }, thresholds).outcome,
            "pass",
        );
    });

    it("waits, saying so, while the new version has too few requests; never passes them", () => {
        const v = judge({ canary: side(99, 0, 1), stable: side(2000, 0, 1) }, thresholds);
        assert.strictEqual(v.outcome, "wait");
        assert.match(v.message, /^too few requests to judge: 99 on the new version, at least 100 needed/);
    });

    it("a window sums the hosts' deltas and weights their response times by requests", () => {
        const stats = (canary: "blue" | "green", c: number[], s: number[]): CanaryStats => {
            const server = ([requests, http5xx, connErrors, respErrors, responseMs]: number[]) => ({
                requests,
                http5xx,
                connErrors,
                respErrors,
                sessions: 0,
                responseMs,
            });
            const stable = canary === "blue" ? "green" : "blue";
            return {
                instance: "web",
                canary,
                stable,
                weight: 5,
                servers: { [canary]: server(c), [stable]: server(s) } as CanaryStats["servers"],
            };
        };
        const before = [
            stats("green", [10, 1, 0, 0, 0], [1000, 0, 0, 0, 5]),
            stats("blue", [0, 0, 0, 0, 0], [50, 0, 0, 0, 5]),
        ];
        const after = [
            stats("green", [110, 4, 1, 1, 20], [3000, 2, 0, 0, 5]),
            // Host 2's proxy restarted: its counters start again from zero.
            stats("blue", [300, 3, 0, 0, 40], [20, 0, 0, 0, 9]),
        ];
        const w = windowOf(before, after);
        assert.deepStrictEqual(w.canary, {
            requests: 400,
            errors: 8,
            responseMs: (100 * 20 + 300 * 40) / 400,
        });
        assert.deepStrictEqual(w.stable, {
            requests: 2020,
            errors: 2,
            responseMs: (2000 * 5 + 20 * 9) / 2020,
        });
    });
});

/** How the new version behaves in the fake hosts' traffic. */
interface Model {
    /** Requests per second each host's proxy gets. */
    rate: number;
    /** Share of the new version's requests that fail. */
    errorRate: number;
    /** The new version's average response time (stable: 2 ms). */
    responseMs: number;
}

interface FakeHost {
    serving: { image: string; version: string; digest: string };
    canary?: { colour: "blue" | "green"; weight: number; version: string; digest: string; image: string };
    counters: Record<"blue" | "green", { requests: number; errors: number; responseMs: number }>;
    active: "blue" | "green";
}

/** Hosts that answer canary-* as host/bluegreen does; time passes only in clock.sleep. */
class FakeFleet implements Transport, Clock {
    readonly commands: string[] = [];
    readonly hosts = new Map<string, FakeHost>();
    time = 0;
    failures: { host: string; command: string; code: number; stderr: string }[] = [];

    constructor(
        names: string[],
        private readonly model: Model,
    ) {
        for (const n of names) {
            this.hosts.set(n, {
                serving: { ...OLD },
                active: "blue",
                counters: {
                    blue: { requests: 0, errors: 0, responseMs: 2 },
                    green: { requests: 0, errors: 0, responseMs: 0 },
                },
            });
        }
    }

    now(): number {
        return this.time;
    }

    async sleep(ms: number): Promise<void> {
        this.time += ms;
        for (const h of this.hosts.values()) {
            const total = (this.model.rate * ms) / 1000;
            const toCanary = h.canary ? Math.round((total * h.canary.weight) / 100) : 0;
            const stable = h.counters[h.active];
            stable.requests += Math.round(total) - toCanary;
            if (h.canary) {
                const c = h.counters[h.canary.colour];
                c.requests += toCanary;
                c.errors += Math.round(toCanary * this.model.errorRate);
                c.responseMs = this.model.responseMs;
            }
        }
    }

    private status(h: FakeHost): string {
        return JSON.stringify({ instance: "web", ...h.serving, active: null, retained: null });
    }

    async run(host: HostTarget, command: string): Promise<HostResult> {
        const words = command.split(" ");
        assert.strictEqual(words[0], "bluegreen");
        for (const w of words) assert.match(w, /^[A-Za-z0-9._/:@=+-]+$/, "plain words only");
        this.commands.push(`${host.name}: ${words.slice(1).join(" ")}`);
        const h = this.hosts.get(host.name)!;
        const sub = words[1];
        const failure = this.failures.find((f) => f.host === host.name && f.command === sub);
        if (failure) return { code: failure.code, stdout: "", stderr: failure.stderr };
        const opt = (name: string) => words[words.indexOf(name) + 1];
        const ok = (stderr = "") => ({ code: 0, stdout: `${this.status(h)}\n`, stderr });
        switch (sub) {
            case "status":
                return ok();
            case "canary-start": {
                const colour = h.active === "blue" ? "green" : "blue";
                h.canary = {
                    colour,
                    weight: Number(opt("--weight")),
                    version: opt("--version"),
                    digest: opt("--digest"),
                    image: opt("--image"),
                };
                h.counters[colour] = { requests: 0, errors: 0, responseMs: 0 };
                return ok(`bluegreen: canary ${h.canary.version} on ${colour}\n`);
            }
            case "canary-weight":
                assert.ok(h.canary, `${host.name}: canary-weight without a canary`);
                h.canary.weight = Number(opt("--weight"));
                return ok();
            case "canary-stats": {
                assert.ok(h.canary);
                const server = (c: { requests: number; errors: number; responseMs: number }) => ({
                    requests: c.requests,
                    http5xx: c.errors,
                    connErrors: 0,
                    respErrors: 0,
                    sessions: 0,
                    responseMs: c.responseMs,
                });
                return {
                    code: 0,
                    stdout: `${JSON.stringify({
                        instance: "web",
                        canary: h.canary.colour,
                        stable: h.active,
                        weight: h.canary.weight,
                        servers: { blue: server(h.counters.blue), green: server(h.counters.green) },
                    })}\n`,
                    stderr: "",
                };
            }
            case "canary-promote":
                assert.ok(h.canary);
                h.active = h.canary.colour;
                h.serving = { image: h.canary.image, version: h.canary.version, digest: h.canary.digest };
                h.canary = undefined;
                return ok();
            case "canary-abort":
                h.canary = undefined;
                return ok("bluegreen: aborted the canary\n");
            case "release":
                h.serving = { image: opt("--image"), version: opt("--version"), digest: opt("--digest") };
                return ok();
            default:
                throw new Error(`unexpected command ${command}`);
        }
    }

    /** The subcommands each host was sent, in order, without status. */
    sent(name: string): string[] {
        return this.commands
            .filter((c) => c.startsWith(`${name}: `) && !c.includes(": status"))
            .map((c) => c.split(" ")[1]);
    }
}

const host = (n: number): HostTarget => ({
    name: `web-${n}`,
    address: `10.0.0.${n}`,
    port: 22,
    hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA",
});

function canaryPlan(hosts: number, canary = {}): ReleasePlan {
    return {
        user: "deploy",
        hosts: Array.from({ length: hosts }, (_, i) => host(i + 1)),
        batchSize: 1,
        target: NEW,
        toolOptions: ["--instance", "web", "--drain-timeout", "30", "--stop-timeout", "10"],
        hostOptions: {},
        canary: canarySettingsSchema.parse({
            steps: [
                { weight: 5, bakeSeconds: 30 },
                { weight: 25, bakeSeconds: 30 },
                { weight: 50, bakeSeconds: 30 },
            ],
            ...thresholds,
            ...canary,
        }),
    };
}

async function run(plan: ReleasePlan, fleet: FakeFleet) {
    const log: string[] = [];
    try {
        return { summary: await canaryRelease(plan, fleet, (l) => log.push(l), fleet), log };
    } catch (e) {
        if (!(e instanceof OrchestratorError)) throw e;
        return { error: e, log };
    }
}

describe("deploy: the canary release moves every host through the steps together", () => {
    it("a good version passes every step on every host and is promoted everywhere", async () => {
        const fleet = new FakeFleet(["web-1", "web-2", "web-3"], { rate: 200, errorRate: 0, responseMs: 2 });
        const r = await run(canaryPlan(3), fleet);
        assert.ok(r.summary, r.error?.message);
        for (const n of ["web-1", "web-2", "web-3"]) {
            assert.deepStrictEqual(fleet.sent(n), [
                "canary-start",
                ...["canary-stats", "canary-stats"],
                ...["canary-weight", "canary-stats", "canary-stats"],
                ...["canary-weight", "canary-stats", "canary-stats"],
                "canary-promote",
            ]);
            assert.deepStrictEqual(r.summary.hosts[n], { version: "2.0.0", digest: NEW.digest });
        }
        // Every host gets each step's weight before any host is judged at it.
        const weights = fleet.commands
            .filter((c) => /canary-(start|weight)/.test(c))
            .map((c) => c.replace(/.* --weight /, ""));
        assert.deepStrictEqual(weights, ["5", "5", "5", "25", "25", "25", "50", "50", "50"]);
        const start = fleet.commands.find((c) => c.includes("canary-start"))!;
        assert.strictEqual(
            start,
            `web-1: canary-start --image ${IMAGE} --version 2.0.0 --digest ${NEW.digest} --instance web --drain-timeout 30 --stop-timeout 10 --weight 5`,
        );
        assert.strictEqual(
            fleet.commands.find((c) => c.includes("promote")),
            "web-1: canary-promote --instance web --drain-timeout 30 --stop-timeout 10",
        );
        assert.strictEqual(fleet.time, 90_000, "three bakes of 30 s, no waiting");
        assert.ok(
            r.log.some((l) => /step 3\/3 \(50%\) passed: new version: 0 errors in 9000 requests/.test(l)),
            r.log.join("\n"),
        );
    });

    it("a 5 % error version fails the first step: every host back to stable, exit 13, figures in the message", async () => {
        const fleet = new FakeFleet(["web-1", "web-2"], { rate: 1000, errorRate: 0.05, responseMs: 2 });
        const r = await run(canaryPlan(2), fleet);
        assert.ok(r.error);
        assert.strictEqual(r.error.exitCode, EXIT.canary);
        assert.strictEqual(
            r.error.message,
            "canary of 2.0.0 failed at step 1/3 (5%): error ratio 5.00% is more than 1.00 points above the stable " +
                "version's 0.00% (new version: 150 errors in 3000 requests (5.00%), 2 ms average response; stable: 0 errors " +
                "in 57000 requests (0.00%), 2 ms); every host serves its previous version",
        );
        for (const n of ["web-1", "web-2"]) {
            assert.deepStrictEqual(fleet.sent(n), [
                "canary-start",
                "canary-stats",
                "canary-stats",
                "canary-abort",
            ]);
            assert.strictEqual(fleet.hosts.get(n)!.serving.version, "1.0.0");
        }
        assert.strictEqual(
            fleet.commands.find((c) => c.includes("abort")),
            "web-1: canary-abort --instance web --drain-timeout 30 --stop-timeout 10",
        );
    });

    it("a slow version fails on latency", async () => {
        const fleet = new FakeFleet(["web-1"], { rate: 1000, errorRate: 0, responseMs: 300 });
        const r = await run(canaryPlan(1), fleet);
        assert.strictEqual(r.error?.exitCode, EXIT.canary);
        assert.match(
            r.error.message,
            /failed at step 1\/3 \(5%\): average response time 300 ms is more than 1\.5 times and 50 ms above the stable version's 2 ms/,
        );
    });

    it("a host that fails mid-canary returns every host to stable, with that host's error and code", async () => {
        const fleet = new FakeFleet(["web-1", "web-2", "web-3"], { rate: 200, errorRate: 0, responseMs: 2 });
        fleet.failures.push({
            host: "web-2",
            command: "canary-weight",
            code: 255,
            stderr: "ssh: connect to host 10.0.0.2 port 22: Connection refused\n",
        });
        const r = await run(canaryPlan(3), fleet);
        assert.ok(r.error);
        assert.strictEqual(r.error.exitCode, EXIT.failed, "ssh's 255 is no tool code: 1");
        assert.strictEqual(
            r.error.message,
            "canary of 2.0.0: setting 25% failed on web-2 (exit 255): ssh: connect to host 10.0.0.2 port 22: Connection refused; " +
                "every host serves its previous version",
        );
        for (const n of ["web-1", "web-2", "web-3"]) {
            assert.strictEqual(fleet.sent(n).at(-1), "canary-abort", n);
            assert.strictEqual(fleet.hosts.get(n)!.serving.version, "1.0.0");
        }
    });

    it("a host whose start fails: the others are returned, the tool's code passes through", async () => {
        const fleet = new FakeFleet(["web-1", "web-2"], { rate: 200, errorRate: 0, responseMs: 2 });
        fleet.failures.push({
            host: "web-1",
            command: "canary-start",
            code: 5,
            stderr: "bluegreen: error: web-green (2.0.0) did not pass GET /health 3 times in a row within 20s\n",
        });
        const r = await run(canaryPlan(2), fleet);
        assert.strictEqual(r.error?.exitCode, 5);
        assert.match(
            r.error.message,
            /^canary of 2\.0\.0: the start failed on web-1 \(exit 5\): web-green \(2\.0\.0\) did not pass/,
        );
        assert.deepStrictEqual(
            fleet.sent("web-1"),
            ["canary-start"],
            "its own failure cleaned up after itself",
        );
        assert.deepStrictEqual(fleet.sent("web-2"), ["canary-start", "canary-abort"]);
    });

    it("a step with too few requests says so and waits; passes once enough arrive", async () => {
        // 20 requests/s at 5 %: one a second on the new version, 100 needed: 30 s of bake + 70 s waiting.
        const fleet = new FakeFleet(["web-1"], { rate: 20, errorRate: 0, responseMs: 2 });
        const r = await run(
            canaryPlan(1, { steps: [{ weight: 5, bakeSeconds: 30 }], maxWaitSeconds: 120 }),
            fleet,
        );
        assert.ok(r.summary, r.error?.message);
        assert.ok(
            r.log.includes(
                "canary 2.0.0: step 1/1 (5%): too few requests to judge: 30 on the new version, at least 100 needed " +
                    "(new version: 0 errors in 30 requests (0.00%), 2 ms average response; stable: 0 errors in 570 requests (0.00%), 2 ms); waiting",
            ),
            r.log.join("\n"),
        );
        assert.strictEqual(fleet.time, 100_000);
    });

    it("a step that never gets enough requests fails after maxWaitSeconds rather than passing", async () => {
        const fleet = new FakeFleet(["web-1"], { rate: 20, errorRate: 0, responseMs: 2 });
        const r = await run(
            canaryPlan(1, { steps: [{ weight: 5, bakeSeconds: 30 }], maxWaitSeconds: 20 }),
            fleet,
        );
        assert.strictEqual(r.error?.exitCode, EXIT.canary);
        assert.match(
            r.error.message,
            /^canary of 2\.0\.0 failed at step 1\/1 \(5%\): too few requests to judge: 50 on the new version, at least 100 needed .*, still after waiting 20s beyond the bake \(maxWaitSeconds\); every host serves its previous version$/,
        );
        assert.deepStrictEqual(fleet.sent("web-1").at(-1), "canary-abort");
    });

    it("a host that serves nothing yet: a blue-green release, no canary", async () => {
        const fleet = new FakeFleet(["web-1", "web-2"], { rate: 200, errorRate: 0, responseMs: 2 });
        fleet.hosts.get("web-2")!.serving = { image: "", version: "", digest: "" };
        const r = await run(canaryPlan(2), fleet);
        assert.ok(r.summary, r.error?.message);
        assert.deepStrictEqual(fleet.sent("web-1"), ["release"]);
        assert.ok(
            r.log.includes(
                "a host serves nothing yet, so there is no stable version to compare with: releasing blue-green",
            ),
        );
    });
});

describe("deploy: canary settings on the orchestrator's command line", () => {
    const settings = {
        publicPort: 80,
        appPort: 8000,
        bluePort: 18001,
        greenPort: 18002,
        proxyImage: "haproxy:2.6",
        health: { path: "/health", successes: 3, intervalMs: 500, timeoutSeconds: 60 },
        smokePaths: ["/health"],
        keepReleases: 20,
        lockTimeoutSeconds: 120,
        limits: { memory: "256m", pids: 128 },
    };
    const options = { user: "deploy", hosts: [host(1)], batchSize: 1 };

    it("passes the settings as JSON, and the command line reads back the same plan", () => {
        const canary = canarySettingsSchema.parse({ steps: [{ weight: 10, bakeSeconds: 5 }] });
        const args = orchestratorArgs(NEW, settings, { ...options, canary });
        const at = args.indexOf("--canary");
        assert.deepStrictEqual(JSON.parse(args[at + 1]), {
            ...canaryDefaults,
            steps: [{ weight: 10, bakeSeconds: 5 }],
        });
        const parsed = parseArgs(args);
        assert.ok(parsed !== "help");
        assert.deepStrictEqual(parsed.plan.canary, canary);
        const plain = parseArgs(orchestratorArgs(NEW, settings, options));
        assert.ok(plain !== "help");
        assert.strictEqual(plain.plan.canary, undefined);
    });

    for (const [value, message] of [
        ["{", /--canary must be JSON/],
        [
            '{"steps":[{"weight":100,"bakeSeconds":5}]}',
            /invalid --canary steps\.0\.weight: must be a whole number of percent .* from 1 to 99/,
        ],
        [
            '{"steps":[{"weight":50,"bakeSeconds":5},{"weight":25,"bakeSeconds":5}]}',
            /invalid --canary steps: weights must grow from step to step/,
        ],
        ['{"maxErrorRatio":2}', /invalid --canary maxErrorRatio: must be a number from 0 to 1/],
        ['{"minRequest":5}', /invalid --canary/],
    ] as const) {
        it(`refuses --canary ${value} (exit 2)`, () => {
            assert.throws(
                () => parseArgs(["--canary", value, "--user", "deploy"]),
                (e: unknown) =>
                    e instanceof OrchestratorError && e.exitCode === EXIT.usage && message.test(e.message),
            );
        });
    }
});
