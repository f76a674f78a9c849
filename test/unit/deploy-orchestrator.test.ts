/**
 * The multi-host orchestrator (components/deploy/orchestrator/release.ts) against a fake SSH
 * transport that plays the hosts, the way Kamal tests its CLI against stubbed SSH
 * (basecamp/kamal test/cli/*_test.rb stub SSHKit's execute and assert on the commands sent).
 * Each fake host behaves as host/bluegreen does: `status` prints its status line (status_json),
 * `release` prints the status line of what it serves afterwards as its last stdout line and exits
 * with the tool's codes (EXIT_LOCKED=3, EXIT_UNHEALTHY=5, ...), with `bluegreen: error: <message>`
 * on stderr (the tool's die()). A connection failure is ssh's exit 255 with ssh's message.
 */
import * as assert from "assert";
import type { HostTarget } from "../../components/deploy/host-commands";
import {
    EXIT,
    HostResult,
    OrchestratorError,
    ReleasePlan,
    releaseHosts,
    Transport,
} from "../../components/deploy/orchestrator/release";

const digest = (c: string) => `sha256:${c.repeat(64)}`;
const IMAGE = "registry.example.com/acme/web-app";
const NEW = { image: IMAGE, version: "2.0.0", digest: digest("b") };

interface Serving {
    version: string;
    digest: string;
    image: string;
}

/** A status line as `bluegreen status` prints it. */
const statusLine = (s: Serving, instance = "app") =>
    `{"instance":"${instance}","version":"${s.version}","digest":"${s.digest}","image":"${s.image}","active":null,"retained":null}`;

/** How one fake host answers; each defaults to what a healthy host with the tool does. */
interface Behaviour {
    /** Overrides the status answer. */
    status?: HostResult;
    /** Overrides the answer to a release of this version (the host keeps serving what it did). */
    failRelease?: { version: string; code: number; stderr: string };
    /** Overrides the last stdout line of a successful release. */
    releaseLine?: string;
}

/** A fake fleet: records every command, in order, with the start and end of each. */
class FakeHosts implements Transport {
    readonly events: string[] = [];
    /** The start and end of each `status` (the check before any release). */
    readonly checks: string[] = [];
    readonly commands: string[] = [];
    readonly serving = new Map<string, Serving>();

    constructor(private readonly behaviour: Record<string, Behaviour> = {}) {}

    async run(host: HostTarget, command: string): Promise<HostResult> {
        const words = command.split(" ");
        assert.strictEqual(words[0], "bluegreen", "every command goes to the gate as `bluegreen ...`");
        for (const w of words) assert.match(w, /^[A-Za-z0-9._/:@=+-]+$/, "plain words only");
        this.commands.push(`${host.name}: ${command}`);
        const b = this.behaviour[host.name] ?? {};
        const now = this.serving.get(host.name) ?? { version: "", digest: "", image: "" };
        if (words[1] === "status") {
            this.checks.push(`start ${host.name}`);
            await new Promise((r) => setTimeout(r, 5));
            this.checks.push(`end ${host.name}`);
            return b.status ?? { code: 0, stdout: `${statusLine(now)}\n`, stderr: "" };
        }
        assert.strictEqual(words[1], "release");
        const opt = (name: string) => words[words.indexOf(name) + 1];
        const version = opt("--version");
        this.events.push(`start ${host.name} ${version}`);
        await new Promise((r) => setTimeout(r, 5));
        this.events.push(`end ${host.name} ${version}`);
        if (b.failRelease?.version === version) {
            const { code, stderr } = b.failRelease;
            return { code, stdout: `${statusLine(now)}\n`, stderr };
        }
        const after = { version, digest: opt("--digest"), image: opt("--image") };
        this.serving.set(host.name, after);
        return {
            code: 0,
            stdout: `pulling\n${b.releaseLine ?? statusLine(after)}\n`,
            stderr: `bluegreen: ${host.name} serves ${version}\n`,
        };
    }

    releases(): string[] {
        return this.commands.filter((c) => c.includes(" release "));
    }
}

const host = (n: number): HostTarget => ({
    name: `web-${n}`,
    address: `10.0.0.${n}`,
    port: 22,
    hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA",
});

function plan(count: number, batchSize = 1, extra: Partial<ReleasePlan> = {}): ReleasePlan {
    return {
        user: "deploy",
        hosts: Array.from({ length: count }, (_, i) => host(i + 1)),
        batchSize,
        target: NEW,
        toolOptions: ["--instance", "web", "--public-port", "80"],
        hostOptions: {},
        ...extra,
    };
}

const OLD: Serving = { version: "1.0.0", digest: digest("a"), image: IMAGE };

/** Runs the orchestrator; returns its summary or its error, and what it logged. */
async function orchestrate(p: ReleasePlan, fake: FakeHosts) {
    const log: string[] = [];
    try {
        const summary = await releaseHosts(p, fake, (l) => log.push(l));
        return { summary, log };
    } catch (e) {
        if (!(e instanceof OrchestratorError)) throw e;
        return { error: e, log };
    }
}

describe("deploy: the orchestrator releases batch by batch and keeps every host on one version", () => {
    it("checks every host first, then releases the batches in order, the hosts of a batch at once", async () => {
        const fake = new FakeHosts();
        for (let n = 1; n <= 5; n++) fake.serving.set(`web-${n}`, OLD);
        const r = await orchestrate(plan(5, 2), fake);
        assert.ok(r.summary, r.error?.message);
        // Status of all five before the first release; status carries only the instance options.
        assert.deepStrictEqual(
            fake.commands.slice(0, 5),
            [1, 2, 3, 4, 5].map((n) => `web-${n}: bluegreen status --instance web`),
        );
        assert.deepStrictEqual(fake.events, [
            "start web-1 2.0.0",
            "start web-2 2.0.0",
            "end web-1 2.0.0",
            "end web-2 2.0.0",
            "start web-3 2.0.0",
            "start web-4 2.0.0",
            "end web-3 2.0.0",
            "end web-4 2.0.0",
            "start web-5 2.0.0",
            "end web-5 2.0.0",
        ]);
        assert.strictEqual(
            fake.releases()[0],
            `web-1: bluegreen release --image ${IMAGE} --version 2.0.0 --digest ${NEW.digest} --instance web --public-port 80`,
        );
        assert.deepStrictEqual(r.summary, {
            version: "2.0.0",
            digest: NEW.digest,
            hosts: Object.fromEntries(
                [1, 2, 3, 4, 5].map((n) => [`web-${n}`, { version: "2.0.0", digest: NEW.digest }]),
            ),
        });
        assert.deepStrictEqual(r.log.slice(0, 2), ["web-1 serves 1.0.0", "web-2 serves 1.0.0"]);
        assert.ok(r.log.includes("[web-1] bluegreen: web-1 serves 2.0.0"), "each host's stderr, prefixed");
        assert.strictEqual(r.log[r.log.length - 1], "all 5 host(s) serve 2.0.0");
    });

    it("checks all the hosts at once, and only then releases", async () => {
        const fake = new FakeHosts();
        const r = await orchestrate(plan(3, 1), fake);
        assert.ok(r.summary, r.error?.message);
        assert.deepStrictEqual(fake.checks, [
            "start web-1",
            "start web-2",
            "start web-3",
            "end web-1",
            "end web-2",
            "end web-3",
        ]);
        assert.deepStrictEqual(r.log.slice(0, 3), [
            "web-1 serves nothing yet",
            "web-2 serves nothing yet",
            "web-3 serves nothing yet",
        ]);
    });

    it("a host's own options (--host-arg) go to that host's status and release only", async () => {
        const fake = new FakeHosts();
        const r = await orchestrate(
            plan(2, 1, { hostOptions: { "web-2": ["--instance", "web-b", "--public-port", "81"] } }),
            fake,
        );
        assert.ok(r.summary, r.error?.message);
        assert.strictEqual(fake.commands[1], "web-2: bluegreen status --instance web --instance web-b");
        assert.match(fake.releases()[0], /--public-port 80$/);
        assert.match(fake.releases()[1], /--public-port 80 --instance web-b --public-port 81$/);
    });

    it("a failure on host 3 switches hosts 1 and 2 back to what they served, with their reported values", async () => {
        const older: Serving = {
            version: "0.9.0",
            digest: digest("c"),
            image: "registry.example.com/acme/old-app",
        };
        const fake = new FakeHosts({
            "web-3": {
                failRelease: {
                    version: "2.0.0",
                    code: 5,
                    stderr: "bluegreen: starting green\nbluegreen: error: green did not pass GET /health 3 times within 20s\n",
                },
            },
        });
        fake.serving.set("web-1", OLD);
        fake.serving.set("web-2", older);
        fake.serving.set("web-3", OLD);
        fake.serving.set("web-4", OLD);
        const r = await orchestrate(plan(4), fake);
        assert.ok(r.error);
        // The tool's exit code passes through: 5, never healthy.
        assert.strictEqual(r.error.exitCode, 5);
        assert.strictEqual(
            r.error.message,
            "release of 2.0.0 failed on web-3: green did not pass GET /health 3 times within 20s; " +
                "switched web-1 web-2 back to their previous version",
        );
        assert.deepStrictEqual(
            fake.releases().map((c) => c.replace(/ --instance web --public-port 80$/, "")),
            [
                `web-1: bluegreen release --image ${IMAGE} --version 2.0.0 --digest ${NEW.digest}`,
                `web-2: bluegreen release --image ${IMAGE} --version 2.0.0 --digest ${NEW.digest}`,
                `web-3: bluegreen release --image ${IMAGE} --version 2.0.0 --digest ${NEW.digest}`,
                `web-1: bluegreen release --image ${IMAGE} --version 1.0.0 --digest ${OLD.digest}`,
                `web-2: bluegreen release --image ${older.image} --version 0.9.0 --digest ${older.digest}`,
            ],
            "web-4 is never touched; each switched host goes back to its own image, version and digest",
        );
        assert.deepStrictEqual(fake.serving.get("web-1"), OLD);
        assert.deepStrictEqual(fake.serving.get("web-2"), older);
        assert.ok(
            r.log.includes(
                "release of 2.0.0 failed on web-3 (exit 5): green did not pass GET /health 3 times within 20s",
            ),
        );
        assert.ok(r.log.includes("switching web-1 back to 1.0.0"));
    });

    it("switches the hosts back a batch at a time, as it released them", async () => {
        const fake = new FakeHosts({
            "web-5": {
                failRelease: { version: "2.0.0", code: 5, stderr: "bluegreen: error: never healthy\n" },
            },
        });
        for (let n = 1; n <= 6; n++) fake.serving.set(`web-${n}`, OLD);
        const r = await orchestrate(plan(6, 3), fake);
        assert.strictEqual(r.error?.exitCode, 5);
        assert.strictEqual(
            r.error?.message,
            "release of 2.0.0 failed on web-5: never healthy; switched web-1 web-2 web-3 web-4 web-6 back to their previous version",
        );
        // The batch of web-5 (web-4 to web-6) ran in full; then the five switched hosts go back, 3 at once.
        assert.deepStrictEqual(
            fake.events.filter((e) => e.endsWith(" 1.0.0")),
            [
                "start web-1 1.0.0",
                "start web-2 1.0.0",
                "start web-3 1.0.0",
                "end web-1 1.0.0",
                "end web-2 1.0.0",
                "end web-3 1.0.0",
                "start web-4 1.0.0",
                "start web-6 1.0.0",
                "end web-4 1.0.0",
                "end web-6 1.0.0",
            ],
        );
        for (let n = 1; n <= 6; n++) assert.deepStrictEqual(fake.serving.get(`web-${n}`), OLD);
    });

    it("does not switch back a host that already served the new digest, and names hosts it cannot switch back", async () => {
        const fake = new FakeHosts({
            "web-2": {
                failRelease: { version: "1.0.0", code: 7, stderr: "bluegreen: error: docker failed\n" },
            },
            "web-4": {
                failRelease: {
                    version: "2.0.0",
                    code: 6,
                    stderr: "bluegreen: error: smoke test of 2.0.0 failed\n",
                },
            },
        });
        fake.serving.set("web-1", { ...NEW, version: "2.0.0" });
        fake.serving.set("web-2", OLD);
        // web-3 serves nothing yet: a first release has nothing to go back to.
        fake.serving.set("web-4", OLD);
        const r = await orchestrate(plan(4), fake);
        assert.ok(r.error);
        assert.strictEqual(r.error.exitCode, 6);
        assert.strictEqual(
            r.error.message,
            "release of 2.0.0 failed on web-4: smoke test of 2.0.0 failed; " +
                "NOT rolled back: web-2 (rollback failed) web-3 (it had no earlier release)",
        );
        assert.ok(!fake.releases().some((c) => c.startsWith("web-1: ") && c.includes("--version 1.0.0")));
        assert.ok(r.log.includes("[web-2] bluegreen: error: docker failed"));
    });

    it("a lock held on a host: the tool's exit code 3 and its message propagate, earlier hosts go back", async () => {
        const message =
            "another release holds the lock on /home/deploy/.local/state/bluegreen/web/lock (waited 120s): pid 4242";
        const fake = new FakeHosts({
            "web-2": { failRelease: { version: "2.0.0", code: 3, stderr: `bluegreen: error: ${message}\n` } },
        });
        fake.serving.set("web-1", OLD);
        fake.serving.set("web-2", OLD);
        const r = await orchestrate(plan(2), fake);
        assert.ok(r.error);
        assert.strictEqual(r.error.exitCode, 3);
        assert.strictEqual(
            r.error.message,
            `release of 2.0.0 failed on web-2: ${message}; switched web-1 back to their previous version`,
        );
        assert.deepStrictEqual(fake.serving.get("web-1"), OLD);
    });

    it("a failure that is not the tool's (ssh's 255, a lost connection) ends with exit 1", async () => {
        const fake = new FakeHosts({
            "web-1": {
                failRelease: {
                    version: "2.0.0",
                    code: 255,
                    stderr: "Connection to 10.0.0.1 closed by remote host.\n",
                },
            },
        });
        const r = await orchestrate(plan(1), fake);
        assert.strictEqual(r.error?.exitCode, EXIT.failed);
        assert.strictEqual(
            r.error?.message,
            "release of 2.0.0 failed on web-1: Connection to 10.0.0.1 closed by remote host.",
        );
    });

    it("an unreachable host fails the run before any host is switched (exit 9)", async () => {
        const fake = new FakeHosts({
            "web-3": {
                status: {
                    code: 255,
                    stdout: "",
                    stderr: "ssh: connect to host 10.0.0.3 port 22: Connection refused\n",
                },
            },
        });
        const r = await orchestrate(plan(3), fake);
        assert.strictEqual(r.error?.exitCode, EXIT.unreachable);
        assert.strictEqual(
            r.error?.message,
            "cannot check web-3 (10.0.0.3:22) as deploy; nothing was changed on any host: " +
                "ssh: connect to host 10.0.0.3 port 22: Connection refused ",
        );
        assert.deepStrictEqual(fake.releases(), []);
    });

    it("a host where a shell, not the gate, answers (127): names the host's one-time setup, changes nothing", async () => {
        const fake = new FakeHosts({
            "web-2": {
                status: { code: 127, stdout: "", stderr: "bash: line 1: bluegreen: command not found\n" },
            },
        });
        const r = await orchestrate(plan(2), fake);
        assert.strictEqual(r.error?.exitCode, EXIT.unreachable);
        assert.match(
            r.error!.message,
            /cannot check web-2 .*command not found.*not set up for the deploy key.*scripts\/host-setup\.sh/,
        );
        assert.deepStrictEqual(fake.releases(), []);
    });

    it("a host whose release summary does not parse fails the run (exit 10), naming the host", async () => {
        for (const [line, message] of [
            ["released 2.0.0", /web-2 printed a malformed release line/],
            ['{"instance":"app","version":"2.0.0"', /web-2 printed a malformed release line/],
            [
                statusLine({ version: "2.0.0", digest: digest("d"), image: IMAGE }),
                /web-2 reported sha256:d{64} after releasing sha256:b{64}/,
            ],
        ] as const) {
            const fake = new FakeHosts({ "web-2": { releaseLine: line } });
            const r = await orchestrate(plan(2), fake);
            assert.strictEqual(r.error?.exitCode, EXIT.hostReport, line);
            assert.match(r.error!.message, message);
        }
    });

    const hostile: [string, string, RegExp][] = [
        [
            "a version with a quote and a command substitution",
            statusLine({ version: `1.0'$(touch /tmp/pwned)'`, digest: digest("a"), image: IMAGE }),
            /^web-2 reported an invalid version in its status line: "1\.0'\$\(touch \/tmp\/pwned\)'"; refusing to use it$/,
        ],
        [
            "a version with an escaped JSON quote",
            statusLine({ version: `1.0\\"; id; \\"`, digest: digest("a"), image: IMAGE }),
            /^web-2 reported an invalid version in its status line: "1\.0\\"; id; \\""/,
        ],
        [
            "a digest of the wrong form",
            statusLine({ ...OLD, digest: "sha256:abc" }),
            /web-2 reported an invalid digest/,
        ],
        [
            "a digest of another algorithm",
            statusLine({ ...OLD, digest: `sha512:${"a".repeat(64)}` }),
            /invalid digest/,
        ],
        [
            "an image with a shell separator",
            statusLine({ ...OLD, image: "acme/app;reboot" }),
            /web-2 reported an invalid image/,
        ],
        [
            "a version without its digest",
            statusLine({ ...OLD, digest: "" }),
            /web-2 reported a version without a digest/,
        ],
        [
            "a digest without its version",
            statusLine({ ...OLD, version: "" }),
            /web-2 reported a version without a digest/,
        ],
        [
            "a version of another type",
            statusLine(OLD).replace('"1.0.0"', "[1]"),
            /web-2 reported an invalid version/,
        ],
        [
            "a line that is no status at all",
            "bash: welcome to the host",
            /web-2 printed a malformed status line/,
        ],
        ["JSON that is no status", '{"hello":"world"}', /web-2 printed a malformed status line/],
        ["an instance name with a space", statusLine(OLD, "a b"), /web-2 printed a malformed status line/],
    ];
    for (const [what, line, message] of hostile) {
        it(`refuses a status line with ${what}, naming the host, before any host is switched (exit 10)`, async () => {
            const fake = new FakeHosts({ "web-2": { status: { code: 0, stdout: `${line}\n`, stderr: "" } } });
            fake.serving.set("web-1", OLD);
            const r = await orchestrate(plan(2), fake);
            assert.strictEqual(r.error?.exitCode, EXIT.hostReport);
            assert.match(r.error!.message, message);
            assert.deepStrictEqual(fake.releases(), [], "no release ran on any host");
        });
    }

    it("reads a host that serves nothing yet (empty values) and says so", async () => {
        const fake = new FakeHosts();
        const r = await orchestrate(plan(1), fake);
        assert.ok(r.summary);
        assert.strictEqual(r.log[0], "web-1 serves nothing yet");
    });
});
