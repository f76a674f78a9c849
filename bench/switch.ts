/**
 * npm run bench:switch [-- N] — how long a blue-green switch of the local stack takes end to end,
 * against the host-side release it runs.
 *
 * After one switch that is not measured, switches the local stack N times (default 6, a multiple
 * of 3) through three test versions with `scripts/local-up.sh VERSION`, the command a user runs,
 * and times each run from start to exit (rig check, Node.js and engine, `pulumi up`, the served
 * version checked). Three versions, so that each release starts a new container: the version
 * released is never the colour the host retained for an instant rollback. The host-side release
 * time is the tool's own figure: duration_s of that release in the host's release log
 * (`bluegreen history`). The last line is:
 *
 *   switches=N switch_s=S release_s=R ratio=S/R
 *
 * With --phases (`npm run bench:switch -- 6 --phases`), three more switches, each with the engine's
 * log, print before it where the time of `pulumi up` goes (phasesOf), and what `pulumi up` of an
 * empty program takes with the same engine (emptyProgramUp).
 *
 * S and R are medians. Needs the rig (root on Debian), like scripts/local-up.sh; a first run
 * brings the stack up at 1.0.0 before measuring. It leaves the stack one version on from where it
 * found it.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { history, Rig, run } from "../testkit/rig";

const ROOT = path.resolve(__dirname, "..");
const VERSIONS = ["1.0.0", "2.0.0", "2.1.0"];

const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    const m = Math.floor(s.length / 2);
    return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** The local stack's host (its address and port) and the app's instance name on it. */
function localStack(): { address: string; port: number; instance: string } {
    const file = YAML.parse(fs.readFileSync(path.join(ROOT, "Pulumi.local.yaml"), "utf8")) as {
        config: Record<string, { hosts: { address: string; port: number }[]; instance: string }>;
    };
    const deploy = file.config["cicd-pipeline:deploy"];
    return { ...deploy.hosts[0], instance: deploy.instance };
}

async function localUp(version: string): Promise<number> {
    const started = process.hrtime.bigint();
    const r = await run(path.join(ROOT, "scripts/local-up.sh"), [version]);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (r.code !== 0) throw new Error(`scripts/local-up.sh ${version} failed:\n${r.stdout}\n${r.stderr}`);
    return seconds;
}

async function main(): Promise<void> {
    const args = process.argv.slice(2);
    const phases = args.includes("--phases");
    const n = Number(args.find((a) => a !== "--phases") ?? 6);
    if (!Number.isInteger(n) || n < 3 || n % VERSIONS.length !== 0)
        throw new Error(
            `the number of switches must be a multiple of ${VERSIONS.length}, not ${args.join(" ")}`,
        );

    const current = await run(path.join(ROOT, "scripts/local-pulumi.sh"), ["stack", "output", "version"]);
    let from = current.stdout.trim();
    if (current.code !== 0 || !VERSIONS.includes(from)) {
        console.log(`bringing the local stack up at ${VERSIONS[0]} (not measured)`);
        await localUp(VERSIONS[0]);
        from = VERSIONS[0];
    }
    const rig = JSON.parse(
        fs.readFileSync(path.join(process.env.BG_RIG_DIR ?? "/var/lib/bluegreen-rig", "rig.json"), "utf8"),
    ) as Rig;
    const stack = localStack();
    const host = rig.hosts.find((h) => h.address === stack.address && h.port === stack.port);
    if (!host) throw new Error(`the rig has no host at ${stack.address}:${stack.port}`);

    // Not measured: the next version may be the colour the host retained (an instant switch).
    from = VERSIONS[(VERSIONS.indexOf(from) + 1) % VERSIONS.length];
    await localUp(from);

    const switches: number[] = [];
    const releases: number[] = [];
    for (let i = 0; i < n; i++) {
        const to = VERSIONS[(VERSIONS.indexOf(from) + 1) % VERSIONS.length];
        const seconds = await localUp(to);
        const last = (await history(rig, host, stack.instance)).at(-1);
        if (last?.version !== to || last.result !== "success" || last.instant !== false)
            throw new Error(`the host's release log does not end with a new (not instant) release of ${to}`);
        const release = Number(last.duration_s);
        console.log(
            `switch ${i + 1}/${n}: ${from} -> ${to} in ${seconds.toFixed(2)}s (host-side release ${release.toFixed(2)}s)`,
        );
        switches.push(seconds);
        releases.push(release);
        from = to;
    }
    if (phases) {
        const runs: Record<string, number>[] = [];
        for (let i = 0; i < VERSIONS.length; i++) {
            const to = VERSIONS[(VERSIONS.indexOf(from) + 1) % VERSIONS.length];
            runs.push(await phasesOf(rig, to));
            from = to;
        }
        const names = Object.keys(runs[0]);
        console.log(
            `phases (median of ${runs.length}, seconds): ` +
                names.map((k) => `${k}=${median(runs.map((p) => p[k])).toFixed(2)}`).join(" "),
        );
        console.log(
            `engine floor (median of 5, seconds): empty_program_up=${(await emptyProgramUp()).toFixed(2)}`,
        );
    }
    const s = median(switches);
    const r = median(releases);
    console.log(
        `switches=${n} switch_s=${s.toFixed(2)} release_s=${r.toFixed(2)} ratio=${(s / r).toFixed(2)}`,
    );
}

/**
 * Where the time of `pulumi up` goes: one switch to `version` by scripts/local-pulumi.sh (the
 * `pulumi up` of local-up.sh, without the rig check) with the engine's log (-v=7 --logflow, which
 * itself costs a little), split at the first log line of each step:
 *   wrappers_cli:  local-pulumi.sh (Node.js, engine, the machine's config) and the CLI's start;
 *   engine:        the CLI until it runs the program (language host, plugins, state);
 *   node_sdk:      Node.js and the Pulumi SDK until the stack registers;
 *   program:       the program until its first resource;
 *   to_release:    its resources until the engine creates the release;
 *   orchestrator:  the orchestrator's start and the hosts' check, until it releases;
 *   release:       the release (the host-side release and its SSH round trip);
 *   end:           the update's end, until the CLI exits.
 */
async function phasesOf(rig: Rig, version: string): Promise<Record<string, number>> {
    const steps: [string, RegExp][] = [
        ["wrappers_cli", /^Pulumi$/],
        ["engine", /^langhost\[nodejs\]\.Run\(/],
        ["node_sdk", /^ResourceMonitor\.RegisterResource received: t=pulumi:pulumi:Stack/],
        ["program", /^ResourceMonitor\.RegisterResource received: t=(?!pulumi:pulumi:Stack)/],
        ["to_release", /^Provider\[.*\]\.Create\(.*command:local:Command::.*-release\) executing/],
        ["orchestrator", /release-hosts: releasing /],
        ["release", /^Provider\[.*\]\.Create\(.*command:local:Command::.*-release\) success/],
    ];
    const started = Date.now();
    const r = await run(path.join(ROOT, "scripts/local-pulumi.sh"), [
        "up",
        "--yes",
        "--skip-preview",
        "--config",
        `version=${version}`,
        "--config",
        `digest=${rig.appDigests[version]}`,
        "-v=7",
        "--logtostderr",
        "--logflow",
    ]);
    const ended = Date.now();
    if (r.code !== 0) throw new Error(`pulumi up of ${version} failed:\n${r.stdout}\n${r.stderr}`);
    const seen = new Map<string, number>();
    for (const line of r.stderr.split("\n")) {
        if (!line.startsWith("{")) continue;
        const { time, msg } = JSON.parse(line) as { time: string; msg?: string };
        const step = steps.find(([name, re]) => !seen.has(name) && re.test(msg ?? ""));
        if (step) seen.set(step[0], Date.parse(time));
    }
    const out: Record<string, number> = {};
    let from = started;
    for (const [name] of steps) {
        const at = seen.get(name);
        if (at === undefined) throw new Error(`the engine's log of ${version} has no line for ${name}`);
        out[name] = (at - from) / 1000;
        from = at;
    }
    out.end = (ended - from) / 1000;
    return out;
}

main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
});

/**
 * What the engine costs whatever the program: the median of 5 `pulumi up` runs, with nothing to
 * change, of a program that only loads the SDK, with the same engine, Node.js and SDK as the local
 * stack (its own project and file backend in a temporary directory).
 */
async function emptyProgramUp(): Promise<number> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cicd-empty-program-"));
    try {
        fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: empty\nruntime: nodejs\nmain: index.js\n");
        fs.writeFileSync(path.join(dir, "index.js"), 'require("@pulumi/pulumi");\n');
        fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"));
        const tool = async (script: string) => {
            const r = await run(path.join(ROOT, "scripts", script), []);
            if (r.code !== 0) throw new Error(`scripts/${script} failed: ${r.stderr}`);
            return r.stdout.trim();
        };
        const env = {
            ...process.env,
            PATH: `${await tool("provide-engine.sh")}:${await tool("provide-node.sh")}:${process.env.PATH}`,
            PULUMI_BACKEND_URL: `file://${dir}/state`,
            PULUMI_CONFIG_PASSPHRASE: "empty",
            PULUMI_SKIP_UPDATE_CHECK: "true",
            PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
        };
        fs.mkdirSync(path.join(dir, "state"));
        const pulumi = async (...args: string[]) => {
            const started = Date.now();
            const r = await run("pulumi", ["--cwd", dir, ...args], { env });
            if (r.code !== 0) throw new Error(`pulumi ${args.join(" ")} failed:\n${r.stdout}\n${r.stderr}`);
            return (Date.now() - started) / 1000;
        };
        await pulumi("stack", "init", "empty", "--secrets-provider", "passphrase");
        await pulumi("up", "--yes", "--skip-preview");
        const times: number[] = [];
        for (let i = 0; i < 5; i++) times.push(await pulumi("up", "--yes", "--skip-preview"));
        return median(times);
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}
