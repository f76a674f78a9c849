/**
 * scripts/local-pulumi.sh keeps the machine's copy of the local stack's config
 * ($CICD_LOCAL_STATE/Pulumi.local.yaml) and rebuilds it only when what it is made from changed: the
 * committed Pulumi.local.yaml, the rig's description, scripts/local-stack-config.ts and the deploy
 * key (config.inputs records their sha256). These tests change each kind of input in a copy of the
 * project with its own state directory, through the real pulumi CLI (`config get`, which reads the
 * machine's copy), and check that the next command sees the change.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { copyLocalStack } from "../../testkit/local-stack";
import { ensureRig, Rig, run } from "../../testkit/rig";

const ROOT = path.resolve(__dirname, "..", "..");

describe("the machine's copy of the local stack's config (e2e)", function () {
    this.timeout(300_000);
    let work: string;
    let env: NodeJS.ProcessEnv;
    let state: string;
    let rig: Rig;
    const machineFile = () => path.join(state, "Pulumi.local.yaml");
    /** The object value of a config key, as the pulumi CLI reads it from the machine's copy. */
    const configGet = async (key: string): Promise<Record<string, unknown>> => {
        const r = await run(path.join(work, "scripts/local-pulumi.sh"), ["config", "get", key, "--json"], {
            env,
        });
        assert.strictEqual(r.code, 0, r.stderr);
        return (JSON.parse(r.stdout) as { objectValue: Record<string, unknown> }).objectValue;
    };
    const successes = async () => ((await configGet("deploy")).health as { successes: number }).successes;

    before(async function () {
        this.timeout(1_200_000);
        const r = await ensureRig();
        if (typeof r === "string") throw new Error(`the e2e tests cannot run: ${r}`);
        rig = r;
        // Its ports are never used: nothing here is released.
        ({ project: work, env } = copyLocalStack(ROOT, "cicd-local-config-", "localconfig", 18930));
        state = env.CICD_LOCAL_STATE!;
    });

    after(() => {
        if (work) fs.rmSync(path.dirname(work), { recursive: true, force: true });
    });

    it("a first command builds it, with the deploy key as a secret and the rig's host key", async () => {
        const deploy = await configGet("deploy");
        assert.strictEqual((deploy.health as { successes: number }).successes, 3);
        const [host] = deploy.hosts as { address: string; port: number; hostKey: string }[];
        const rigHost = rig.hosts.find((h) => h.address === host.address && h.port === host.port);
        assert.strictEqual(
            host.hostKey,
            rigHost?.hostKey,
            "the rig's host key, not the committed placeholder",
        );
        const machine = YAML.parse(fs.readFileSync(machineFile(), "utf8"));
        assert.ok(machine.config["cicd-pipeline:deploySshKey"].secure, "the deploy key is a secure value");
        const [key, sum] = fs.readFileSync(path.join(state, "config.inputs"), "utf8").trim().split(" ");
        assert.ok(fs.existsSync(key), `config.inputs names the deploy key file (${key})`);
        assert.match(sum, /^[0-9a-f]{64}$/);
    });

    it("a change to the committed file shows in the next command", async () => {
        const file = path.join(work, "Pulumi.local.yaml");
        const doc = YAML.parseDocument(fs.readFileSync(file, "utf8"));
        doc.setIn(["config", "cicd-pipeline:deploy", "health", "successes"], 5);
        fs.writeFileSync(file, doc.toString());
        assert.strictEqual(await successes(), 5);
    });

    it("a change to the script that merges the inputs rebuilds the copy", async () => {
        // An edit by hand of the machine's copy stands for a copy an older script had written.
        const doc = YAML.parseDocument(fs.readFileSync(machineFile(), "utf8"));
        doc.setIn(["config", "cicd-pipeline:deploy", "health", "successes"], 9);
        fs.writeFileSync(machineFile(), doc.toString());
        assert.strictEqual(await successes(), 9, "unchanged inputs: the copy is not rebuilt");
        fs.appendFileSync(path.join(work, "scripts/local-stack-config.ts"), "\n// changed\n");
        assert.strictEqual(await successes(), 5, "the script changed: the copy is rebuilt from the inputs");
    });

    it("a copy that lost the deploy key gets it back, without a change to any input", async () => {
        const doc = YAML.parseDocument(fs.readFileSync(machineFile(), "utf8"));
        doc.deleteIn(["config", "cicd-pipeline:deploySshKey"]);
        fs.writeFileSync(machineFile(), doc.toString());
        await successes();
        const machine = YAML.parse(fs.readFileSync(machineFile(), "utf8"));
        assert.ok(machine.config["cicd-pipeline:deploySshKey"]?.secure, "the deploy key is back, secret");
    });

    it("another deploy key (config.inputs' sum of it differs) is set again", async () => {
        const stamp = path.join(state, "config.inputs");
        const [key] = fs.readFileSync(stamp, "utf8").trim().split(" ");
        // A different sum stands for a key file whose content changed since the copy was built.
        fs.writeFileSync(stamp, `${key} ${"0".repeat(64)}\n`);
        fs.writeFileSync(path.join(state, "deploy-key.sha256"), `${"0".repeat(64)}\n`);
        const before = YAML.parse(fs.readFileSync(machineFile(), "utf8")).config["cicd-pipeline:deploySshKey"]
            .secure;
        await successes();
        const after = YAML.parse(fs.readFileSync(machineFile(), "utf8")).config["cicd-pipeline:deploySshKey"]
            .secure;
        assert.notStrictEqual(after, before, "the key was encrypted and written again");
        assert.notStrictEqual(fs.readFileSync(stamp, "utf8").split(" ")[1].trim(), "0".repeat(64));
    });
});
