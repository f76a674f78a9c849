/**
 * drift-hosts: compares what every host of a stack serves (`bluegreen status`, through the host's
 * gate, as the release orchestrator checks hosts) with what the stack's last release recorded (its
 * outputs version, digest and liveColours). scripts/drift.sh runs it; it reads on stdin
 *
 *   {"config": <pulumi config --json>, "outputs": <pulumi stack output --json>}
 *
 * and the deploy key from $BLUEGREEN_SSH_KEY (taken out of the environment before any child runs).
 * Exit codes: 0 every host serves what the stack released; 1 drift (each host named, with what it
 * serves and what the stack says); 2 bad input; 9 a host could not be checked.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { hostReleaseSettings } from "../components/deploy/blue-green-deployment";
import { gateCommand, orchestratorArgs } from "../components/deploy/host-commands";
import { KEY_VARIABLE, parseArgs } from "../components/deploy/orchestrator/cli";
import { instanceOptions, Transport } from "../components/deploy/orchestrator/release";
import { SshTransport } from "../components/deploy/orchestrator/ssh";
import { HostStatus, readHostLine } from "../components/deploy/orchestrator/summary";
import { parseConfig } from "../config";
import type { RawConfig } from "../config/types";

/** What the stack's last release recorded (its outputs). */
export interface Released {
    readonly version?: string;
    readonly digest?: string;
    readonly liveColours?: Readonly<Record<string, string>>;
}

/** One host's drift: what it serves against what the stack released; undefined fields agree. */
export interface HostDrift {
    readonly host: string;
    readonly problems: string[];
}

/** What differs between one host's status and the stack's release. */
export function compareHost(host: string, status: HostStatus, released: Released): HostDrift {
    const problems: string[] = [];
    const serves = status.version
        ? `${status.version} (${status.digest}) on ${status.active || "?"}`
        : "nothing";
    if (!released.version) {
        if (status.version) problems.push(`serves ${serves}, but the stack released nothing`);
        return { host, problems };
    }
    if (status.digest !== released.digest || status.version !== released.version) {
        problems.push(`serves ${serves}; the stack released ${released.version} (${released.digest})`);
    }
    const colour = released.liveColours?.[host];
    if (colour && status.active !== colour) {
        problems.push(
            `serves from ${status.active || "no colour"}; the stack's release left ${colour} serving`,
        );
    }
    return { host, problems };
}

/** The raw config from `pulumi config --json` (secret values are not shown there and not needed). */
export function rawConfigOf(
    stack: string,
    json: Record<string, { value?: unknown; secret?: boolean }>,
): RawConfig {
    const values: Record<string, string> = {};
    const secretKeys = new Set<string>();
    let project = "";
    for (const [key, entry] of Object.entries(json)) {
        project ||= key.split(":")[0];
        if (entry.secret) {
            secretKeys.add(key);
            continue;
        }
        if (entry.value !== undefined) {
            values[key] = typeof entry.value === "string" ? entry.value : JSON.stringify(entry.value);
        }
    }
    return { project: project || "cicd-pipeline", stack, values, secretKeys };
}

/** Checks every host of the stack; resolves with each host's drift. */
export async function checkHosts(
    stack: string,
    input: { config: Record<string, { value?: unknown; secret?: boolean }>; outputs: Released },
    transport: (hosts: ReturnType<typeof planOf>["hosts"]) => Transport,
): Promise<HostDrift[]> {
    const plan = planOf(stack, input.config);
    const t = transport(plan.hosts);
    const out: HostDrift[] = [];
    for (const host of plan.hosts) {
        const options = [...plan.toolOptions, ...(plan.hostOptions[host.name] ?? [])];
        const r = await t.run(host, gateCommand(["status", ...instanceOptions(options)]));
        if (r.code !== 0) {
            throw new DriftError(
                `cannot check ${host.name} (${host.address}:${host.port}): ${r.stderr.trim().replace(/\n/g, " ")}`,
                9,
            );
        }
        const line = r.stdout.trim().split("\n").pop() ?? "";
        out.push(compareHost(host.name, readHostLine(host.name, "status", line), input.outputs));
    }
    return out;
}

/** The hosts, user and per-host options of a stack, as its release would reach them. */
export function planOf(stack: string, config: Record<string, { value?: unknown; secret?: boolean }>) {
    const parsed = parseConfig(rawConfigOf(stack, config), { requireSecrets: false });
    const deploy = parsed.deploy;
    if (!deploy) throw new DriftError(`stack ${stack} declares no hosts (no deploy section)`, 2);
    const args = orchestratorArgs(
        { image: deploy.image, version: "drift", digest: `sha256:${"0".repeat(64)}` },
        hostReleaseSettings(deploy),
        { user: deploy.user, hosts: deploy.hosts, batchSize: 1 },
    );
    const cli = parseArgs(args);
    if (cli === "help") throw new DriftError("unexpected help", 2);
    return cli.plan;
}

export class DriftError extends Error {
    constructor(
        message: string,
        readonly exitCode: number,
    ) {
        super(message);
    }
}

async function main(): Promise<void> {
    const key = process.env[KEY_VARIABLE];
    delete process.env[KEY_VARIABLE];
    const stack = process.argv[2];
    const say = (line: string) => process.stdout.write(`${line}\n`);
    let dir: string | undefined;
    process.on("exit", () => dir && fs.rmSync(dir, { recursive: true, force: true }));
    try {
        if (!stack) throw new DriftError("usage: drift.ts <stack> < {config, outputs} JSON", 2);
        if (!key) throw new DriftError(`no deploy key: set ${KEY_VARIABLE}`, 2);
        const input = JSON.parse(fs.readFileSync(0, "utf8"));
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "drift-hosts-"));
        const keyFile = path.join(dir, "key");
        fs.writeFileSync(keyFile, key.endsWith("\n") ? key : `${key}\n`, { mode: 0o600 });
        const user = planOf(stack, input.config).user;
        const drift = await checkHosts(stack, input, (hosts) => {
            return new SshTransport({
                user,
                keyFile,
                hosts,
                workDir: dir!,
                connectTimeout: 10,
                env: { ...process.env },
            });
        });
        const released = input.outputs as Released;
        say(
            `stack ${stack} released ${released.version ?? "nothing"}${released.digest ? ` (${released.digest})` : ""}`,
        );
        for (const d of drift) {
            if (d.problems.length === 0) say(`${d.host}: as released`);
            for (const p of d.problems) say(`DRIFT ${d.host}: ${p}`);
        }
        const drifted = drift.filter((d) => d.problems.length > 0);
        if (drifted.length > 0) {
            say(
                `${drifted.length} of ${drift.length} host(s) changed since the last release (switched or released by hand). ` +
                    `Fix: release again: pulumi up -s ${stack} --replace <the release command's URN> (README: Drift)`,
            );
            process.exitCode = 1;
        } else {
            say(`no drift: ${drift.length} host(s) serve what stack ${stack} released`);
        }
    } catch (e) {
        const code = e instanceof DriftError ? e.exitCode : 2;
        process.stderr.write(`drift: error: ${e instanceof Error ? e.message : String(e)}\n`);
        process.exitCode = code;
    }
}

if (require.main === module) void main();
