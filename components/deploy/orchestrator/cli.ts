/**
 * release-hosts: the orchestrator's command line. Runs where `pulumi up` runs (BlueGreenDeployment
 * starts it as a local command, see script.ts) and in the integration tests; never on a host.
 *
 * Reads its options (host-commands.ts, orchestratorArgs, builds them), checks each against the same
 * patterns as the component, writes the SSH key to a private file and releases through ssh.ts.
 * The key never appears in an argument list, a log line, or a child's environment; its file (0600,
 * in a 0700 directory) is removed on every way out, a signal included.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { HostTarget } from "../host-commands";
import { BATCH_SIZE_MAX, KEY_VARIABLE } from "../host-commands";
import { hostPatterns } from "../patterns";
import { canaryRelease } from "./canary";
import type { CanarySettings } from "./canary-settings";
import { canarySettingsSchema } from "./canary-settings";
import type { ReleasePlan } from "./release";
import { EXIT, OrchestratorError, releaseHosts } from "./release";
import { SshTransport } from "./ssh";

export const PROG = "release-hosts";

export { KEY_VARIABLE };

export const USAGE = `Usage:
  ${PROG} --user USER --host 'NAME ADDRESS PORT KEYTYPE KEY' [--host ...]
                --image REPO --version TAG --digest sha256:HEX
                [--batch-size N] [--key-file FILE] [--connect-timeout S]
                [--host-arg NAME=ARG ...] [--canary JSON] [-- BLUEGREEN-RELEASE-OPTIONS...]

Checks every host first (SSH with the pinned host key, the tool, Docker); changes nothing if one
cannot be reached (exit 9). Then releases the hosts in the order given, BATCH-SIZE at a time [1], in
parallel within a batch. If a release fails, every host this run switched is released back to
the version it served before, and the command exits with the tool's exit code (3 lock held,
5 never healthy, 6 smoke test failed, ...; 1 otherwise) naming the host and the error.

With --canary '{"steps":[{"weight":5,"bakeSeconds":60},...],"maxErrorRatio":0.01,...}' (the fields
of deploy.canary; absent ones take their defaults) every host runs the new version beside the
stable one, all hosts step by step together, and each step is judged from the proxies' counters;
a failed step returns every host to the stable version and exits 13.

The SSH private key is read from --key-file or, if not given, from $${KEY_VARIABLE}.
Each host runs \`bluegreen <subcommand> <options>\` as plain words: the deploy key's forced command
there (bluegreen-gate) checks them and runs the release tool; no shell on the host reads them.
--host-arg adds one option to one host's tool command line (hosts sharing a machine need
their own --instance and ports). Options after -- go to every \`bluegreen release\`.
The last line on stdout is JSON: {"version","digest","hosts":{NAME:{"version","digest"}}}.
What a host reports (its version, digest and image) is checked against the same strict patterns as
every option; a host reporting a malformed or hostile value fails the run (exit 10), naming it.`;

/** The parsed command line. */
export interface CliOptions {
    readonly plan: ReleasePlan;
    readonly keyFile?: string;
    readonly connectTimeout: number;
}

const usage = (message: string) => new OrchestratorError(message, EXIT.usage);

function check(what: string, value: string, pattern: RegExp): string {
    if (!pattern.test(value)) throw usage(`invalid ${what} ${JSON.stringify(value)}`);
    return value;
}

function count(what: string, value: string, min: number, max: number): number {
    const n = Number(check(what, value, /^[0-9]{1,5}$/));
    if (n < min || n > max) throw usage(`${what} must be a whole number from ${min} to ${max}, got ${value}`);
    return n;
}

/** Reads argv (without node and the program); throws an OrchestratorError with exit code 2. */
export function parseArgs(argv: readonly string[]): CliOptions | "help" {
    const hosts: HostTarget[] = [];
    const hostOptions: Record<string, string[]> = {};
    const values: Record<string, string> = {};
    let toolOptions: string[] = [];
    let canary: CanarySettings | undefined;
    for (let i = 0; i < argv.length; i += 2) {
        const option = argv[i];
        if (option === "--") {
            toolOptions = argv.slice(i + 1);
            break;
        }
        if (option === "-h" || option === "--help") return "help";
        if (i + 1 >= argv.length) throw usage(`option ${option} needs a value (see: ${PROG} --help)`);
        const value = argv[i + 1];
        switch (option) {
            case "--user":
            case "--key-file":
            case "--batch-size":
            case "--connect-timeout":
            case "--image":
            case "--version":
            case "--digest":
                values[option] = value;
                break;
            case "--host": {
                const words = value.trim().split(/\s+/);
                if (words.length !== 5) {
                    throw usage(`--host needs 'NAME ADDRESS PORT KEYTYPE KEY', got ${JSON.stringify(value)}`);
                }
                const [name, address, port, keyType, key] = words;
                check("host name", name, hostPatterns.hostName);
                check(`address of ${name}`, address, hostPatterns.hostAddress);
                const hostKey = check(`host key of ${name}`, `${keyType} ${key}`, hostPatterns.hostKey);
                if (hosts.some((h) => h.name === name)) throw usage(`host ${name} is listed twice`);
                hosts.push({ name, address, port: count(`port of ${name}`, port, 1, 65535), hostKey });
                break;
            }
            case "--canary":
                canary = parseCanary(value);
                break;
            case "--host-arg": {
                const at = value.indexOf("=");
                const name = check(
                    "--host-arg host",
                    at < 0 ? value : value.slice(0, at),
                    hostPatterns.hostName,
                );
                const arg = check("--host-arg value", value.slice(at + 1), hostPatterns.gateWord);
                (hostOptions[name] ??= []).push(arg);
                break;
            }
            default:
                throw usage(`unknown option ${JSON.stringify(option)} (see: ${PROG} --help)`);
        }
    }
    const user = check("user", values["--user"] ?? "", hostPatterns.user);
    const target = {
        image: check("image", values["--image"] ?? "", hostPatterns.image),
        version: check("version", values["--version"] ?? "", hostPatterns.version),
        digest: check("digest", values["--digest"] ?? "", hostPatterns.digest),
    };
    const batchSize = count("batch-size", values["--batch-size"] ?? "1", 1, BATCH_SIZE_MAX);
    const connectTimeout = count("connect-timeout", values["--connect-timeout"] ?? "10", 1, 3600);
    if (hosts.length === 0) throw usage("no --host given");
    for (const name of Object.keys(hostOptions)) {
        if (!hosts.some((h) => h.name === name)) throw usage(`--host-arg names unknown host ${name}`);
    }
    for (const arg of toolOptions) {
        check("tool option", arg, hostPatterns.gateWord);
        if (["--image", "--version", "--digest"].includes(arg))
            throw usage(`give ${arg} to ${PROG}, not after --`);
    }
    return {
        plan: { user, hosts, batchSize, target, toolOptions, hostOptions, ...(canary && { canary }) },
        connectTimeout,
        ...(values["--key-file"] !== undefined && { keyFile: values["--key-file"] }),
    };
}

/** --canary's JSON, checked by the schema deploy.canary is checked by; errors name the field. */
function parseCanary(text: string): CanarySettings {
    let json: unknown;
    try {
        json = JSON.parse(text);
    } catch {
        throw usage(`--canary must be JSON such as '{"steps":[{"weight":5,"bakeSeconds":60}]}'`);
    }
    const parsed = canarySettingsSchema.safeParse(json);
    if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw usage(`invalid --canary ${issue.path.join(".") || "value"}: ${issue.message}`);
    }
    return parsed.data;
}

const say = (line: string) => process.stderr.write(`${PROG}: ${line}\n`);

/**
 * Runs the orchestrator as a program: parses process.argv, releases, prints the summary last on
 * stdout, and sets the exit code. The key is taken out of process.env before any child starts.
 */
export async function runCli(): Promise<void> {
    const keyText = process.env[KEY_VARIABLE];
    delete process.env[KEY_VARIABLE];
    const childEnv = { ...process.env };

    let workDir: string | undefined;
    const cleanUp = () => {
        if (workDir !== undefined) fs.rmSync(workDir, { recursive: true, force: true });
        workDir = undefined;
    };
    // However this ends, the key file goes: normal exit, error, or a signal (a cancelled `pulumi up`).
    process.on("exit", cleanUp);
    let transport: SshTransport | undefined;
    const exitCodes: [NodeJS.Signals, number][] = [
        ["SIGHUP", 129],
        ["SIGINT", 130],
        ["SIGTERM", 143],
    ];
    for (const [signal, code] of exitCodes) {
        process.on(signal, () => {
            transport?.stop(signal);
            say(
                `error: interrupted by ${signal}; hosts may be mid-release, each host's lock keeps it consistent`,
            );
            process.exit(code);
        });
    }

    try {
        const options = parseArgs(process.argv.slice(2));
        if (options === "help") {
            process.stdout.write(`${USAGE}\n`);
            return;
        }
        workDir = fs.mkdtempSync(path.join(os.tmpdir(), `${PROG}-`)); // mode 0700
        let keyFile = options.keyFile;
        if (keyFile === undefined) {
            if (!keyText) throw usage(`no SSH key: give --key-file or set ${KEY_VARIABLE}`);
            keyFile = path.join(workDir, "key");
            fs.writeFileSync(keyFile, keyText.endsWith("\n") ? keyText : `${keyText}\n`, { mode: 0o600 });
        }
        try {
            fs.accessSync(keyFile, fs.constants.R_OK);
        } catch {
            throw usage(`cannot read SSH key file ${keyFile}`);
        }
        transport = new SshTransport({
            user: options.plan.user,
            keyFile,
            hosts: options.plan.hosts,
            workDir,
            connectTimeout: options.connectTimeout,
            env: childEnv,
        });
        const summary = options.plan.canary
            ? await canaryRelease(options.plan, transport, say)
            : await releaseHosts(options.plan, transport, say);
        process.stdout.write(`${JSON.stringify(summary)}\n`);
    } catch (e) {
        if (!(e instanceof OrchestratorError)) throw e;
        say(`error: ${e.message}`);
        process.exitCode = e.exitCode;
    } finally {
        await transport?.close();
        cleanUp();
    }
}
