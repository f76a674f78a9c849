/**
 * The local stack end to end, through the real Pulumi engine: `pulumi up`, a switch under load, a
 * failed release, a rollback, a preview and a destroy, as a user runs them.
 *
 * The engine is scripts/provide-engine.sh's: the installed Pulumi CLI when there is one, otherwise
 * the CLI, the Node.js language host and the command provider (pulumi-resource-command, the
 * version @pulumi/command pins) built from upstream's source; the test prints the versions in use.
 *
 * Pulumi runs in a temporary copy of the project (node_modules linked), with its state and
 * per-machine config in a temporary directory, so the checkout is never written to. The copy's
 * stack releases its own instance on its own ports, so a local stack that is up is left alone.
 */
import * as assert from "assert";
import autocannon from "autocannon";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { copyLocalStack } from "../../testkit/local-stack";
import {
    asHostUser,
    ensureRig,
    get,
    instanceContainers,
    Rig,
    run,
    Result,
    startLoad,
} from "../../testkit/rig";

const ROOT = path.resolve(__dirname, "..", "..");
const PORT = 18610; // the proxy's port in the copy's Pulumi.local.yaml
const INSTANCE = "e2e"; // the app's instance on the host, apart from the local stack's

/** Gives the copy's local stack its own instance and ports, apart from a local stack that is up. */
describe("the local stack through the real Pulumi engine (e2e)", function () {
    this.timeout(300_000);
    let rig: Rig;
    let work: string;
    let env: NodeJS.ProcessEnv;
    const timings: string[] = [];
    /** Everything the scripts and pulumi printed, to search for secrets. */
    const printed: string[] = [];
    let statusBefore = "";
    // What pulumi could write in a project: stack files and local state. (Other files may change
    // meanwhile: people work in the checkout while the tests run.)
    const gitStatus = async () =>
        (await run("git", ["-C", ROOT, "status", "--porcelain", "--ignored", "--", "Pulumi.*", ".pulumi*"]))
            .stdout;

    /** Runs a script of the project copy, timing it and echoing its output on failure. */
    async function script(
        label: string,
        file: string,
        args: string[],
    ): Promise<Result & { seconds: number }> {
        const started = Date.now();
        const r = await run(path.join(work, file), args, { env });
        const seconds = (Date.now() - started) / 1000;
        const engine = /^Duration: (.+)$/m.exec(r.stdout)?.[1];
        const line = `${label}: ${seconds.toFixed(1)}s${engine ? ` (pulumi's own Duration: ${engine})` : ""}, exit ${r.code}`;
        timings.push(line);
        printed.push(r.stdout, r.stderr);
        console.log(`      ${line}`);
        return { ...r, seconds };
    }
    const pulumi = (label: string, ...args: string[]) => script(label, "scripts/local-pulumi.sh", args);
    const output = async (name: string) => {
        const r = await run(path.join(work, "scripts/local-pulumi.sh"), ["stack", "output", name, "--json"], {
            env,
        });
        assert.strictEqual(r.code, 0, r.stderr);
        return JSON.parse(r.stdout) as unknown;
    };
    const served = async () => (await get(PORT, "/version")).body;
    const up = (label: string, version: string) =>
        pulumi(
            label,
            "up",
            "--yes",
            "--config",
            `version=${version}`,
            "--config",
            `digest=${rig.appDigests[version]}`,
        );

    before(async function () {
        this.timeout(1_200_000);
        const r = await ensureRig();
        // Not a skip: without the rig or the engine these tests cannot say anything, and say so.
        if (typeof r === "string") throw new Error(`the e2e tests cannot run: ${r}`);
        rig = r;
        assert.strictEqual(
            await instanceContainers(INSTANCE),
            "",
            `the host already runs instance ${INSTANCE} (a local stack is up?); take it down first: npm run local:down`,
        );

        statusBefore = await gitStatus();
        ({ project: work, env } = copyLocalStack(ROOT, "cicd-e2e-", INSTANCE, PORT));

        const started = Date.now();
        const engine = await run(path.join(work, "scripts/provide-engine.sh"), [], { env });
        const seconds = ((Date.now() - started) / 1000).toFixed(1);
        if (engine.code !== 0) throw new Error(`scripts/provide-engine.sh failed:\n${engine.stderr}`);
        console.log(`      engine provided in ${seconds}s:`);
        for (const l of engine.stderr.trim().split("\n")) console.log(`        ${l}`);
        timings.push(`provide the engine: ${seconds}s`);
        const versions = await run(path.join(work, "scripts/provide-engine.sh"), ["--versions"], { env });
        if (versions.code !== 0)
            throw new Error(`scripts/provide-engine.sh --versions failed:\n${versions.stderr}`);
        console.log(`      engine in use:\n${versions.stdout.replace(/^/gm, "        ").trimEnd()}`);
    });

    after(async function () {
        this.timeout(300_000);
        if (work && (await instanceContainers(INSTANCE)) !== "") {
            await run(path.join(work, "scripts/local-pulumi.sh"), ["destroy", "--yes"], { env });
        }
        if (work) fs.rmSync(path.dirname(work), { recursive: true, force: true });
        if (timings.length > 0)
            console.log(`\n      timings:\n${timings.map((t) => `        ${t}`).join("\n")}`);
    });

    it("scripts/local-up.sh brings the stack up and 1.0.0 serves through the proxy", async () => {
        const r = await script("scripts/local-up.sh 1.0.0 (first pulumi up)", "scripts/local-up.sh", [
            "1.0.0",
        ]);
        assert.strictEqual(r.code, 0, r.stderr + r.stdout);
        assert.match(r.stdout, new RegExp(`local stack: http://127\\.0\\.0\\.1:${PORT} serves 1\\.0\\.0`));
        assert.match(r.stdout, /\+ 5 created/);
        assert.strictEqual(await served(), "1.0.0");
        assert.strictEqual(await output("version"), "1.0.0");
        assert.deepStrictEqual(await output("liveVersions"), { local: "1.0.0" });
    });

    it("running scripts/local-up.sh again changes nothing", async () => {
        const r = await script("scripts/local-up.sh 1.0.0 again", "scripts/local-up.sh", ["1.0.0"]);
        assert.strictEqual(r.code, 0, r.stderr + r.stdout);
        assert.match(r.stdout, /Resources:\s+5 unchanged/);
        assert.doesNotMatch(r.stdout, /created|updated|replaced/);
    });

    it("up with 2.0.0 switches to it without a failed request under light load", async () => {
        let cannon: autocannon.Instance | undefined;
        const load = new Promise<autocannon.Result>((resolve, reject) => {
            cannon = autocannon(
                // Light: 200 requests a second on 4 keep-alive connections.
                {
                    url: `http://127.0.0.1:${PORT}/version`,
                    connections: 4,
                    overallRate: 200,
                    duration: 600,
                    timeout: 10,
                },
                (err, result) => (err ? reject(err) : resolve(result)),
            );
        });
        await new Promise((r) => setTimeout(r, 1000));
        const r = await up("pulumi up 2.0.0 (a switch, under load)", "2.0.0");
        await new Promise((r) => setTimeout(r, 1000));
        cannon!.stop();
        const result = await load;
        console.log(
            `      load: ${result.requests.total} requests, ${result.errors} errors, ${result.timeouts} timeouts, ` +
                `${result.non2xx} non-2xx`,
        );
        assert.strictEqual(r.code, 0, r.stderr + r.stdout);
        // A new version replaces the release command (its triggers); the hosts' installs stay.
        assert.match(r.stdout, /\+-1 replaced/);
        assert.match(r.stdout, /4 unchanged/);
        assert.ok(result.requests.total > 100, `too little load to judge: ${result.requests.total} requests`);
        assert.strictEqual(result.errors, 0);
        assert.strictEqual(result.timeouts, 0);
        assert.strictEqual(result.non2xx, 0);
        assert.strictEqual(await served(), "2.0.0");
        assert.strictEqual(await output("version"), "2.0.0");
    });

    it("up with a version that never gets healthy fails, 2.0.0 keeps serving and the state says 2.0.0", async () => {
        const r = await up("pulumi up 3.0.0-unhealthy (fails)", "3.0.0-unhealthy");
        assert.notStrictEqual(r.code, 0);
        assert.match(r.stdout + r.stderr, /did not pass GET \/health/);
        assert.strictEqual(await served(), "2.0.0");
        assert.strictEqual(await output("version"), "2.0.0");
        assert.strictEqual(await output("digest"), rig.appDigests["2.0.0"]);
        assert.deepStrictEqual(await output("liveVersions"), { local: "2.0.0" });
    });

    it("a canary of a version failing 5 % of requests: pulumi up fails (exit 13) with the figures, 2.0.0 serves", async () => {
        const file = path.join(work, "Pulumi.local.yaml");
        const committed = fs.readFileSync(file, "utf8");
        const doc = YAML.parseDocument(committed);
        doc.setIn(["config", "cicd-pipeline:deploy", "strategy"], "canary");
        doc.setIn(["config", "cicd-pipeline:deploy", "canary"], {
            steps: [
                { weight: 5, bakeSeconds: 5 },
                { weight: 50, bakeSeconds: 5 },
            ],
            minRequests: 50,
            maxWaitSeconds: 60,
        });
        fs.writeFileSync(file, doc.toString());
        const load = startLoad(PORT, 10);
        let r: Result;
        try {
            r = await up("pulumi up 6.0.0-flaky as a canary (aborted)", "6.0.0-flaky");
        } finally {
            await load.stop();
            fs.writeFileSync(file, committed);
        }
        assert.notStrictEqual(r.code, 0);
        const shown = r.stdout + r.stderr;
        // What the user sees: the orchestrator's lines and its error with the measured figures.
        const lines = shown.split("\n").filter((l) => /^ {4}release-hosts: /.test(l));
        console.log(`      pulumi up showed:\n${lines.map((l) => `      ${l}`).join("\n")}`);
        assert.match(shown, /error: exit status 13: running "node - /);
        assert.match(
            shown,
            /release-hosts: error: canary of 6\.0\.0-flaky failed at step 1\/2 \(5%\): error ratio [0-9.]+% is more than 1\.00 points above the stable version's 0\.00% \(new version: \d+ errors in \d+ requests .*\); every host serves its previous version/,
        );
        assert.strictEqual(await served(), "2.0.0");
        assert.strictEqual(await output("version"), "2.0.0");
        assert.deepStrictEqual(await output("liveVersions"), { local: "2.0.0" });
    });

    it("scripts/rollback.sh local 1.0.0 serves 1.0.0 again and the state agrees", async () => {
        const r = await script("scripts/rollback.sh local 1.0.0", "scripts/rollback.sh", ["local", "1.0.0"]);
        assert.strictEqual(r.code, 0, r.stderr + r.stdout);
        assert.match(r.stderr, new RegExp(`1\\.0\\.0 was released with digest ${rig.appDigests["1.0.0"]}`));
        assert.strictEqual(await served(), "1.0.0");
        assert.strictEqual(await output("version"), "1.0.0");
        assert.strictEqual(await output("digest"), rig.appDigests["1.0.0"]);
    });

    it("without a version in config, the stack reads back what it released: a preview changes nothing", async () => {
        for (const key of ["version", "digest"]) {
            const rm = await pulumi(`pulumi config rm ${key}`, "config", "rm", key);
            assert.strictEqual(rm.code, 0, rm.stderr);
        }
        const r = await pulumi(
            "pulumi preview --expect-no-changes (no version configured)",
            "preview",
            "--expect-no-changes",
        );
        assert.strictEqual(r.code, 0, r.stderr + r.stdout);
        assert.strictEqual(await served(), "1.0.0");
    });

    it("a preview afterwards shows no changes", async () => {
        const r = await pulumi("pulumi preview --expect-no-changes", "preview", "--expect-no-changes");
        assert.strictEqual(r.code, 0, r.stderr + r.stdout);
        assert.match(r.stdout, /5 unchanged/);
    });

    it("the deploy key is secret in state and in nothing pulumi printed", async () => {
        const exported = await run(path.join(work, "scripts/local-pulumi.sh"), ["stack", "export"], { env });
        assert.strictEqual(exported.code, 0, exported.stderr);
        // Every base64 line of the private key, none of which may appear in plain text.
        const keyLines = fs
            .readFileSync(rig.privateKeyFile, "utf8")
            .split("\n")
            .filter((l) => /^[A-Za-z0-9+/=]{20,}$/.test(l));
        assert.ok(keyLines.length > 2, "cannot read the deploy key's lines");
        for (const out of [exported.stdout, ...printed])
            for (const l of keyLines)
                assert.ok(!out.includes(l), `a line of the deploy key appeared in plain text`);
        // Where the key is: the release's environment and each install's connection, as secrets
        // (the environment's value, and the whole connection, which the provider's schema marks secret
        // and @pulumi/command's Command wraps in pulumi.secret).
        const secret = (v: unknown) =>
            (v as Record<string, unknown> | undefined)?.["4dabf18193072939515e22adb298388d"] ===
            "1b47061264138c4ac30d75fd1eb44270";
        const resources = JSON.parse(exported.stdout).deployment.resources as {
            type: string;
            urn: string;
            inputs: Record<string, Record<string, unknown>>;
            outputs: Record<string, Record<string, unknown>>;
        }[];
        const release = resources.find(
            (r) => r.type === "command:local:Command" && r.urn.endsWith("-release"),
        );
        assert.ok(release, "no release command in the state");
        assert.ok(secret(release.inputs.environment.BLUEGREEN_SSH_KEY));
        assert.ok(secret(release.outputs.environment.BLUEGREEN_SSH_KEY));
        const installs = resources.filter((r) => r.type === "command:remote:Command");
        assert.strictEqual(installs.length, 1);
        assert.ok(secret(installs[0].inputs.connection));
        assert.ok(secret(installs[0].outputs.connection));
    });

    it("destroy leaves the host clean: no container, network or state of the instance", async () => {
        const r = await pulumi("pulumi destroy", "destroy", "--yes");
        assert.strictEqual(r.code, 0, r.stderr + r.stdout);
        assert.strictEqual(await instanceContainers(INSTANCE), "");
        assert.notStrictEqual((await run("docker", ["network", "inspect", `${INSTANCE}-net`])).code, 0);
        const state = await asHostUser(rig, `test ! -e .local/state/bluegreen/${INSTANCE}`);
        assert.strictEqual(state.code, 0, "the instance's state directory is still on the host");
        await assert.rejects(get(PORT, "/version"), /ECONNREFUSED/);
    });

    it("left the checkout's stack files and state untouched", async () => {
        assert.strictEqual(await gitStatus(), statusBefore);
    });
});
