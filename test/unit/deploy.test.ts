import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import * as fs from "fs";
import * as os from "os";
import { ConfigError, parseConfig, readStackFile } from "../../config";
import { BlueGreenDeployment, hostReleaseSettings } from "../../components/deploy/blue-green-deployment";
import {
    checkDigest,
    commandLine,
    gateCommand,
    HostReleaseSettings,
    installCommand,
    orchestratorArgs,
    orchestratorCommand,
    releaseArgs,
    TOOL_SOURCE,
    uninstallCommand,
    toolOptions,
} from "../../components/deploy/host-commands";
import { orchestratorScript } from "../../components/deploy/orchestrator/script";
import { parseSummary } from "../../components/deploy/orchestrator/summary";
import { outputPromise, promiseOf, RecordingMocks, testDigest, testSecrets } from "../../testkit/mocks";

const digestA = testDigest; // what the mocked registry resolves every tag to
const digestB = `sha256:${"ef".repeat(32)}`;
const hostKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHL3dduAp4UQqzLWOi3qt83WY3xHZahBxLLA8PebGa0c";
const key = "-----BEGIN OPENSSH PRIVATE KEY-----\nsecret-key-material\n-----END OPENSSH PRIVATE KEY-----";

const settings: HostReleaseSettings = {
    publicPort: 80,
    appPort: 8000,
    bluePort: 18001,
    greenPort: 18002,
    proxyImage: "haproxy:2.6",
    health: { path: "/health", successes: 3, intervalMs: 500, timeoutSeconds: 60 },
    smokePaths: ["/health", "/version"],
    keepReleases: 20,
    lockTimeoutSeconds: 120,
    limits: { memory: "256m", pids: 128 },
};
const target = { image: "registry.example.com/acme/web-app", version: "1.4.2", digest: digestB };
const hosts = [
    { name: "web-1", address: "web-1.example.com", port: 22, hostKey },
    { name: "web-2", address: "10.0.0.2", port: 2222, hostKey },
];

const types = {
    remote: "command:remote:Command",
    local: "command:local:Command",
    host: "cicd:deploy:DeployHost",
    deployment: "cicd:deploy:BlueGreenDeployment",
};

/** Mocks whose local commands answer like the orchestrator: a summary of the hosts it was given. */
class ReleaseMocks extends RecordingMocks {
    newResource(args: pulumi.runtime.MockResourceArgs): { id: string; state: Record<string, unknown> } {
        const result = super.newResource(args);
        if (args.type === types.local) {
            const create = String(args.inputs.create);
            const version = /--version (\S+)/.exec(create)![1];
            const digest = /--digest (sha256:[a-f0-9]{64})/.exec(create)![1];
            const names = [...create.matchAll(/--host '([a-z0-9-]+) /g)].map((m) => m[1]);
            const summary = {
                version,
                digest,
                hosts: Object.fromEntries(names.map((n) => [n, { version, digest }])),
            };
            result.state.stdout = `progress\n${JSON.stringify(summary)}\n`;
        }
        return result;
    }
}

async function declare(
    make: () => BlueGreenDeployment,
): Promise<{ mocks: ReleaseMocks; dep: BlueGreenDeployment }> {
    const mocks = new ReleaseMocks();
    await pulumi.runtime.setMocks(mocks, "cicd-pipeline", "test", false);
    const dep = make();
    await promiseOf(dep.urn);
    await outputPromise(dep.liveVersions).catch(() => undefined);
    return { mocks, dep };
}

/** The lookups a deployment asked the (stand-in) registry for; each tag resolves to digestA. */
let lookups: string[] = [];
const registry = async (image: string, tag: string) => {
    lookups.push(`${image}:${tag}`);
    return digestA;
};

const deployment = (extra: Partial<ConstructorParameters<typeof BlueGreenDeployment>[1]> = {}) =>
    new BlueGreenDeployment("production", {
        hosts,
        user: "deploy",
        privateKey: pulumi.secret(key),
        image: target.image,
        version: target.version,
        settings,
        batchSize: 1,
        resolver: registry,
        ...extra,
    });

describe("deploy: release commands as data", () => {
    it("builds the host tool's release argv with every setting", () => {
        assert.deepStrictEqual(releaseArgs(target, settings), [
            ...["release", "--image", "registry.example.com/acme/web-app", "--version", "1.4.2"],
            ...["--digest", digestB, "--public-port", "80", "--app-port", "8000"],
            ...["--blue-port", "18001", "--green-port", "18002", "--proxy-image", "haproxy:2.6"],
            ...["--health-path", "/health", "--health-successes", "3", "--health-interval-ms", "500"],
            ...["--health-timeout", "60", "--lock-timeout", "120", "--keep-releases", "20"],
            ...["--drain-timeout", "30", "--stop-timeout", "10"],
            ...["--memory", "256m", "--pids-limit", "128"],
            ...["--smoke-path", "/health", "--smoke-path", "/version"],
        ]);
    });

    it("passes the drain budget and stop timeout, and refuses them out of bounds", () => {
        const argv = releaseArgs(target, { ...settings, drainSeconds: 0, stopTimeoutSeconds: 600 });
        const at = argv.indexOf("--drain-timeout");
        assert.deepStrictEqual(argv.slice(at, at + 4), ["--drain-timeout", "0", "--stop-timeout", "600"]);
        assert.throws(
            () => releaseArgs(target, { ...settings, drainSeconds: 3601 }),
            /invalid drainSeconds 3601: must be a whole number from 0 to 3600/,
        );
        assert.throws(
            () => releaseArgs(target, { ...settings, stopTimeoutSeconds: -1 }),
            /invalid stopTimeoutSeconds -1: must be a whole number from 0 to 600/,
        );
    });

    it("adds the instance and bind address when given", () => {
        const argv = releaseArgs(target, { ...settings, instance: "web", bind: "127.0.0.1" });
        assert.deepStrictEqual(argv.slice(7, 11), ["--instance", "web", "--bind", "127.0.0.1"]);
    });

    for (const [what, t, s, message] of [
        [
            "a version with a shell command",
            { version: "1.0;rm -rf /" },
            {},
            /invalid version "1\.0;rm -rf \/"/,
        ],
        ["a version with $()", { version: "$(reboot)" }, {}, /invalid version/],
        ["an image with a tag", { image: "acme/web:1.0" }, {}, /invalid image/],
        ["an image with a space", { image: "acme/web app" }, {}, /invalid image/],
        ["a short digest", { digest: "sha256:abc" }, {}, /invalid digest/],
        ["a smoke path with a backtick", {}, { smokePaths: ["/x`id`"] }, /invalid smoke path/],
        ["a proxy image with a space", {}, { proxyImage: "haproxy 2.6" }, /invalid proxyImage/],
        ["a port out of range", {}, { publicPort: 70000 }, /invalid publicPort 70000/],
        ["two equal ports", {}, { bluePort: 80 }, /three different ports/],
        [
            "a memory limit without a unit",
            {},
            { limits: { memory: "512", pids: 64 } },
            /invalid limits\.memory/,
        ],
        ["a memory limit below Docker's 6m", {}, { limits: { memory: "4m", pids: 64 } }, /at least 6m/],
        [
            "a memory limit with a shell command",
            {},
            { limits: { memory: "1g;id", pids: 64 } },
            /limits\.memory/,
        ],
        ["a pids limit of 0", {}, { limits: { memory: "1g", pids: 0 } }, /invalid limits\.pids 0/],
        [
            "a fractional health count",
            {},
            { health: { ...settings.health, successes: 1.5 } },
            /health\.successes/,
        ],
    ] as const) {
        it(`rejects ${what} before building any command`, () => {
            assert.throws(() => releaseArgs({ ...target, ...t }, { ...settings, ...s }), message);
        });
    }

    it("builds the orchestrator's argv: user, batch size, pinned hosts, then the tool's options", () => {
        const argv = orchestratorArgs(target, settings, { user: "deploy", hosts, batchSize: 2 });
        assert.deepStrictEqual(argv.slice(0, 8), [
            ...["--user", "deploy", "--batch-size", "2"],
            ...[
                "--host",
                `web-1 web-1.example.com 22 ${hostKey}`,
                "--host",
                `web-2 10.0.0.2 2222 ${hostKey}`,
            ],
        ]);
        assert.deepStrictEqual(argv.slice(8, 15), [
            ...["--image", target.image, "--version", "1.4.2", "--digest", digestB, "--"],
        ]);
        assert.deepStrictEqual(argv.slice(15), releaseArgs(target, settings).slice(7));
    });

    it("rejects hosts that could smuggle shell words", () => {
        const bad = [
            { ...hosts[0], address: "web-1;id" },
            { ...hosts[0], name: "Web 1" },
            { ...hosts[0], hostKey: "ssh-ed25519 AAAA; id" },
        ];
        for (const h of bad) {
            assert.throws(() =>
                orchestratorArgs(target, settings, { user: "deploy", hosts: [h], batchSize: 1 }),
            );
        }
        assert.throws(
            () => orchestratorArgs(target, settings, { user: "root;id", hosts, batchSize: 1 }),
            /user/,
        );
        assert.throws(() => orchestratorArgs(target, settings, { user: "deploy", hosts: [], batchSize: 1 }));
    });

    it("quotes words for the shell only where needed", () => {
        assert.strictEqual(commandLine(["release", "--version", "1.4.2"]), "release --version 1.4.2");
        assert.strictEqual(commandLine(["--host", "a b"]), "--host 'a b'");
        assert.strictEqual(commandLine(["it's"]), `'it'\\''s'`);
    });

    it("runs the orchestrator from stdin, so the command does not depend on the checkout's path", () => {
        const line = orchestratorCommand([
            "--user",
            "deploy",
            "--host",
            "web-1 10.0.0.1 22 ssh-ed25519 AAAA",
        ]);
        assert.strictEqual(line, `node - --user deploy --host 'web-1 10.0.0.1 22 ssh-ed25519 AAAA'`);
        const script = orchestratorScript();
        for (const text of [line, script]) {
            assert.ok(!text.includes(process.cwd()), "names no path of this checkout");
            assert.ok(!text.includes(os.homedir()), "names no path of this machine");
        }
    });

    it("installs the tool through the host's gate, then claims the instance for the resource that installed it", () => {
        assert.strictEqual(
            installCommand({ instance: "web", owner: "production-web-1.example.com-22" }),
            "bluegreen install --instance web --owner production-web-1.example.com-22",
        );
        assert.strictEqual(installCommand(), "bluegreen install");
        assert.throws(() => installCommand({ owner: "a b;rm" }), /invalid owner/);
    });

    it("sends the gate plain words only: nothing a shell would read", () => {
        assert.strictEqual(gateCommand(["status", "--instance", "web"]), "bluegreen status --instance web");
        for (const word of ["a b", "x;id", "$(id)", "it's", "", "a\nb"]) {
            assert.throws(() => gateCommand(["status", "--instance", word]), /invalid word/, word);
        }
    });

    it("reads the orchestrator's summary from the last JSON line of its output", () => {
        const s = parseSummary(
            `x\n{"version":"1","digest":"${digestA}","hosts":{"a":{"version":"1","digest":"${digestA}"}}}\n`,
        );
        assert.strictEqual(s.hosts.a.version, "1");
        assert.throws(() => parseSummary("no summary"), /printed no summary/);
        // Checked by schema: a summary with a hostile or missing value is refused.
        assert.throws(
            () => parseSummary(`{"version":"1;id","digest":"${digestA}","hosts":{}}`),
            /summary is malformed at version/,
        );
        assert.throws(
            () => parseSummary(`{"version":"1","digest":"${digestA}","hosts":{"a":{"version":"1"}}}`),
            /summary is malformed at hosts\.a\.digest/,
        );
        assert.throws(() => parseSummary(`{"version":"1",`), /summary is no JSON/);
        assert.throws(() => checkDigest("sha256:XYZ"), /invalid digest/);
    });
});

describe("deploy: config", () => {
    it("rejects `1.0;rm -rf /` as a version at config validation, naming the key", () => {
        const raw = readStackFile("staging", {
            overrides: { ...testSecrets("staging"), version: { value: "1.0;rm -rf /" } },
        });
        assert.throws(
            () => parseConfig(raw),
            (e: unknown) =>
                e instanceof ConfigError &&
                e.problems.some((p) => /^cicd-pipeline:version: must be an image tag/.test(p)),
        );
    });

    it("turns the stack's deploy config into host release settings, lock wait defaulting to 120s", () => {
        const config = parseConfig(readStackFile("production", { overrides: testSecrets("production") }));
        const s = hostReleaseSettings(config.deploy!);
        assert.strictEqual(s.lockTimeoutSeconds, 120);
        assert.deepStrictEqual(s.health, {
            path: "/health",
            successes: 5,
            intervalMs: 500,
            timeoutSeconds: 90,
        });
        assert.deepStrictEqual(s.smokePaths, ["/health", "/version"]);
        releaseArgs({ image: config.deploy!.image, version: config.release.version!, digest: digestB }, s);
        assert.strictEqual(s.instance, undefined, "the tool's default instance");
    });

    it("passes the stack's instance and bind address on to the tool", () => {
        const config = parseConfig(readStackFile("local"), { requireSecrets: false });
        const s = hostReleaseSettings(config.deploy!);
        const args = toolOptions(s);
        assert.deepStrictEqual(args.slice(args.indexOf("--instance"), args.indexOf("--instance") + 2), [
            "--instance",
            "local",
        ]);
        assert.deepStrictEqual(args.slice(args.indexOf("--bind"), args.indexOf("--bind") + 2), [
            "--bind",
            "127.0.0.1",
        ]);
    });
});

describe("deploy: BlueGreenDeployment under mocks", () => {
    it("names each host's resources by its address, so renaming a host changes nothing on it", async () => {
        const { mocks } = await declare(() => deployment());
        const renamed = await declare(() =>
            deployment({ hosts: hosts.map((h, i) => ({ ...h, name: `renamed-${i}` })) }),
        );
        assert.deepStrictEqual(
            renamed.mocks.ofType(types.remote).map((r) => r.name),
            mocks.ofType(types.remote).map((r) => r.name),
        );
    });

    it("keeps an IPv6 host's resource name free of the URN separator", async () => {
        const { mocks } = await declare(() => deployment({ hosts: [{ ...hosts[0], address: "fd00::1" }] }));
        assert.deepStrictEqual(
            mocks.ofType(types.remote).map((r) => r.name),
            ["production-fd00__1-22-install"],
        );
    });

    it("installs the tool on each host over SSH with the host key pinned and the key secret", async () => {
        const { mocks } = await declare(() => deployment());
        assert.deepStrictEqual(
            mocks.ofType(types.host).map((r) => r.name),
            ["production-web-1.example.com-22", "production-10.0.0.2-2222"],
        );
        const installs = mocks.ofType(types.remote);
        assert.deepStrictEqual(
            installs.map((r) => r.name),
            ["production-web-1.example.com-22-install", "production-10.0.0.2-2222-install"],
        );
        const [web1, web2] = installs;
        const conn = web1.inputs.connection as Record<string, unknown>;
        assert.strictEqual(conn.host, "web-1.example.com");
        assert.strictEqual(conn.port, 22);
        assert.strictEqual(conn.user, "deploy");
        assert.strictEqual(conn.hostKey, hostKey);
        assert.strictEqual(conn.privateKey, key);
        assert.ok(web1.secretInputs.has("connection"), "the connection (with the key) is secret");
        assert.strictEqual((web2.inputs.connection as Record<string, unknown>).port, 2222);
        assert.strictEqual(web1.inputs.create, installCommand({ owner: "production-web-1.example.com-22" }));
        assert.strictEqual(web1.inputs.stdin, fs.readFileSync(TOOL_SOURCE, "utf8"));
    });

    it("resolves the tag to its digest and releases that digest to all hosts in one command", async () => {
        lookups = [];
        const { mocks, dep } = await declare(() => deployment());
        assert.deepStrictEqual(lookups, ["registry.example.com/acme/web-app:1.4.2"]);
        const [release] = mocks.ofType(types.local);
        assert.strictEqual(release.name, "production-release");
        const expected = orchestratorCommand(
            orchestratorArgs({ ...target, digest: digestA }, settings, {
                user: "deploy",
                hosts,
                batchSize: 1,
            }),
        );
        assert.strictEqual(release.inputs.create, expected);
        assert.strictEqual(release.inputs.update, expected);
        assert.strictEqual(release.inputs.stdin, orchestratorScript());
        assert.deepStrictEqual(release.inputs.triggers, [target.image, "1.4.2", digestA]);
        assert.deepStrictEqual(release.inputs.environment, { BLUEGREEN_SSH_KEY: key });
        assert.ok(
            release.secretInputs.has("environment"),
            "the SSH key reaches the command only as a secret",
        );
        assert.ok(!String(release.inputs.create).includes("PRIVATE KEY"));
        assert.strictEqual(await outputPromise(dep.digest), digestA);
        assert.strictEqual(await outputPromise(dep.version), "1.4.2");
        assert.deepStrictEqual(await outputPromise(dep.liveVersions), { "web-1": "1.4.2", "web-2": "1.4.2" });
    });

    it("declares identical commands for an unchanged release, so pulumi up runs nothing", async () => {
        const first = (await declare(() => deployment())).mocks;
        const second = (await declare(() => deployment())).mocks;
        const inputsOf = (m: RecordingMocks) =>
            [...m.ofType(types.local), ...m.ofType(types.remote)].map((r) => JSON.stringify(r.inputs));
        assert.deepStrictEqual(inputsOf(second), inputsOf(first));
        const changed = (await declare(() => deployment({ version: "1.4.3" }))).mocks;
        const [before] = first.ofType(types.local);
        const [after] = changed.ofType(types.local);
        assert.notDeepStrictEqual(after.inputs.triggers, before.inputs.triggers);
        assert.match(String(after.inputs.create), /--version 1\.4\.3 /);
        assert.deepStrictEqual(
            changed.ofType(types.remote).map((r) => r.inputs),
            first.ofType(types.remote).map((r) => r.inputs),
            "a new version does not reinstall the tool",
        );
    });

    for (const resolveDigest of [false, true]) {
        it(`releases a given digest as it is, without asking the registry (resolveDigest ${resolveDigest})`, async () => {
            lookups = [];
            const { mocks, dep } = await declare(() => deployment({ resolveDigest, digest: digestB }));
            assert.deepStrictEqual(lookups, [], "the registry was asked although the digest was given");
            assert.ok(!mocks.invokes.some((i) => i.token.startsWith("docker:")));
            assert.strictEqual(await outputPromise(dep.digest), digestB);
            assert.match(
                String(mocks.ofType(types.local)[0].inputs.create),
                new RegExp(`--digest ${digestB} `),
            );
        });
    }

    it("fails when the registry's answer is not a digest", async () => {
        await pulumi.runtime.setMocks(new ReleaseMocks(), "cicd-pipeline", "test", false);
        const dep = deployment({ resolver: async () => "sha256:not-hex" });
        await assert.rejects(outputPromise(dep.digest), (e: unknown) => {
            assert.ok(pulumi.ResourceError.isInstance(e), "reported as the component's error");
            assert.match((e as Error).message, /invalid digest "sha256:not-hex"/);
            return true;
        });
    });

    it("reports no live versions where the release command printed nothing (nothing ran)", async () => {
        await pulumi.runtime.setMocks(new RecordingMocks(), "cicd-pipeline", "test", false);
        const dep = deployment();
        assert.deepStrictEqual(await outputPromise(dep.liveVersions), {});
    });

    it("fails, rather than report the requested version, when a release that ran printed no summary", async () => {
        class SilentMocks extends RecordingMocks {
            newResource(args: pulumi.runtime.MockResourceArgs) {
                const result = super.newResource(args);
                if (args.type === types.local) result.state.stdout = "";
                return result;
            }
        }
        await pulumi.runtime.setMocks(new SilentMocks(), "cicd-pipeline", "test", false);
        const dep = deployment();
        await assert.rejects(outputPromise(dep.version), /the orchestrator printed no summary/);
    });

    it("uninstalls the stack's instance (and the tool, if unused) when a host's install is deleted", async () => {
        const { mocks } = await declare(() =>
            deployment({ settings: { ...settings, instance: "web", lockTimeoutSeconds: 45 } }),
        );
        for (const install of mocks.ofType(types.remote)) {
            const owner = install.name.replace(/-install$/, "");
            assert.strictEqual(
                install.inputs.delete,
                uninstallCommand({ instance: "web", lockTimeoutSeconds: 45, owner }),
            );
            assert.strictEqual(
                String(install.inputs.delete),
                `bluegreen uninstall --instance web --lock-timeout 45 --owner ${owner} --drain-timeout 30 --stop-timeout 10 --remove-tool`,
            );
            // Only the resource that claimed the instance last may uninstall it.
            assert.strictEqual(install.inputs.create, `bluegreen install --instance web --owner ${owner}`);
            // A replacement would run the old install's delete, uninstalling the app: never replaced.
            assert.strictEqual(install.inputs.triggers, undefined);
        }
        const defaults = (await declare(() => deployment())).mocks.ofType(types.remote)[0];
        assert.match(
            String(defaults.inputs.delete),
            /bluegreen uninstall --lock-timeout 120 --owner \S+ --drain-timeout 30 --stop-timeout 10 --remove-tool/,
        );
    });

    it("declares no delete on the release command, which every new version replaces", async () => {
        const { mocks } = await declare(() => deployment());
        assert.strictEqual(mocks.ofType(types.local)[0].inputs.delete, undefined);
    });

    it("refuses an unsafe instance name in the uninstall command", () => {
        assert.throws(() => uninstallCommand({ instance: "a;rm -rf ~" }), /invalid instance/);
    });

    it("exports the version and digest the hosts reported, not the ones requested", async () => {
        class Reporting extends ReleaseMocks {
            newResource(args: pulumi.runtime.MockResourceArgs) {
                const result = super.newResource(args);
                if (args.type === types.local) {
                    result.state.stdout = JSON.stringify({
                        version: "1.4.1",
                        digest: digestA,
                        hosts: { "web-1": { version: "1.4.1", digest: digestA } },
                    });
                }
                return result;
            }
        }
        const mocks = new Reporting();
        await pulumi.runtime.setMocks(mocks, "cicd-pipeline", "test", false);
        const dep = deployment({ resolveDigest: false, digest: digestB });
        assert.strictEqual(await outputPromise(dep.version), "1.4.1");
        assert.strictEqual(await outputPromise(dep.digest), digestA);
        assert.deepStrictEqual(await outputPromise(dep.liveVersions), { "web-1": "1.4.1" });
        assert.strictEqual(await pulumi.isSecret(dep.version), false);
    });

    it("refuses a bad version before declaring anything", async () => {
        const mocks = new ReleaseMocks();
        await pulumi.runtime.setMocks(mocks, "cicd-pipeline", "test", false);
        // A ResourceError: pulumi reports it with the component's URN, not as a crash of the program.
        const resourceError = (message: RegExp) => (e: unknown) =>
            pulumi.ResourceError.isInstance(e) && message.test((e as Error).message);
        assert.throws(
            () => deployment({ version: "1.0;rm -rf /" }),
            resourceError(/invalid version "1\.0;rm -rf \/"/),
        );
        assert.throws(() => deployment({ resolveDigest: false }), resourceError(/no digest/));
    });
});
