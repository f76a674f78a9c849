/**
 * Shared Pulumi mocks: record every resource and invoke the program declares, and build a whole
 * stack from its own Pulumi.<stack>.yaml.
 */
import * as pulumi from "@pulumi/pulumi";
import * as path from "path";
import { readStackFile } from "../config";

/** A resource as the program declared it. */
export interface DeclaredResource {
    readonly type: string;
    readonly name: string;
    /** Inputs as the provider would receive them (secrets unwrapped). */
    readonly inputs: Record<string, unknown>;
    /** Input names whose values the program marked secret. */
    readonly secretInputs: ReadonlySet<string>;
}

/** Numeric IDs the mocked GitHub API returns for users and teams. */
export const githubUserIds: Record<string, number> = { alice: 1001, bob: 1002, carol: 1003 };
export const githubTeamIds: Record<string, number> = { "release-managers": 2001, platform: 2002 };

/** The digest the mocked registry reports for every image, and the test stacks pin. */
export const testDigest = `sha256:${"cd".repeat(32)}`;

/** Mocks that record what the program declares. */
export class RecordingMocks implements pulumi.runtime.Mocks {
    readonly resources: DeclaredResource[] = [];
    /** Outputs the stack had before this run, as a StackReference to it reads them. */
    previousOutputs: Record<string, unknown> = {};
    readonly invokes: { token: string; args: Record<string, unknown> }[] = [];
    newResource(args: pulumi.runtime.MockResourceArgs): { id: string; state: Record<string, unknown> } {
        const inputs: Record<string, unknown> = {};
        const secretInputs = new Set<string>();
        for (const [key, value] of Object.entries(args.inputs)) {
            if (isSecretWrapper(value)) secretInputs.add(key);
            inputs[key] = unwrapSecrets(value);
        }
        this.resources.push({ type: args.type, name: args.name, inputs, secretInputs });
        const state: Record<string, unknown> = { ...args.inputs };
        if (args.type === "pulumi:pulumi:StackReference") {
            state.outputs = this.previousOutputs;
            state.secretOutputNames = [];
        }
        if (args.type === "github:index/branchProtection:BranchProtection")
            state.pattern = args.inputs.pattern;
        return { id: `${args.name}-id`, state };
    }

    call(args: pulumi.runtime.MockCallArgs): Record<string, unknown> {
        this.invokes.push({ token: args.token, args: args.inputs });
        switch (args.token) {
            case "github:index/getUser:getUser": {
                const login = String(args.inputs.username);
                if (!(login in githubUserIds)) throw new Error(`GitHub user ${login} not found`);
                return { id: String(githubUserIds[login]), login };
            }
            case "github:index/getTeam:getTeam": {
                const slug = String(args.inputs.slug);
                if (!(slug in githubTeamIds)) throw new Error(`GitHub team ${slug} not found`);
                return { id: String(githubTeamIds[slug]), slug };
            }
            default:
                return {};
        }
    }

    ofType(type: string): DeclaredResource[] {
        return this.resources.filter((r) => r.type === type);
    }
}

/** The wire form of a secret value, as the mock monitor hands it to `newResource`. */
function isSecretWrapper(value: unknown): value is { value: unknown } {
    return (
        typeof value === "object" &&
        value !== null &&
        (value as Record<string, unknown>)[pulumi.runtime.specialSigKey] === pulumi.runtime.specialSecretSig
    );
}

function unwrapSecrets(value: unknown): unknown {
    if (isSecretWrapper(value)) return unwrapSecrets(value.value);
    if (Array.isArray(value)) return value.map(unwrapSecrets);
    if (typeof value === "object" && value !== null) {
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unwrapSecrets(v)]));
    }
    return value;
}

/** Resolves an Output's value in tests. */
export function promiseOf<T>(output: pulumi.Output<T>): Promise<T> {
    return new Promise((resolve) => output.apply((v) => resolve(v)));
}

/** An Output's value as a promise that rejects when the Output fails. */
export function outputPromise<T>(output: pulumi.Output<T>): Promise<T> {
    return (output as unknown as { promise(): Promise<T> }).promise();
}

/** Resolves an Output's value and whether it is secret. */
export async function valueAndSecrecy<T>(output: pulumi.Output<T>): Promise<{ value: T; secret: boolean }> {
    const [value, secret] = await Promise.all([promiseOf(output), pulumi.isSecret(output)]);
    return { value, secret };
}

/** Secret values a test supplies for one stack: distinct per stack, so leaks are traceable. */
export function testSecrets(stack: string): Record<string, { value: string; secret?: boolean }> {
    return {
        deploySshKey: {
            value: `-----BEGIN OPENSSH PRIVATE KEY-----\nkey-material-of-${stack}\n-----END OPENSSH PRIVATE KEY-----`,
            secret: true,
        },
        dockerUsername: { value: `registry-user-${stack}`, secret: true },
        dockerPassword: { value: `registry-password-${stack}`, secret: true },
        pulumiAccessToken: { value: `pul-token-${stack}`, secret: true },
        pulumiConfigPassphrase: { value: `passphrase-${stack}`, secret: true },
        slackWebhook: { value: `https://hooks.slack.com/services/T000/B000/${stack}`, secret: true },
        githubAppPrivateKey: {
            value: `-----BEGIN RSA PRIVATE KEY-----\napp-key-of-${stack}\n-----END RSA PRIVATE KEY-----`,
            secret: true,
        },
        version: { value: "1.4.2" },
        digest: { value: testDigest },
    };
}

const repoRoot = path.resolve(__dirname, "..");

/** A stack built under mocks: what it declared and what it exports. */
export interface BuiltStack {
    readonly mocks: RecordingMocks;
    readonly exports: Record<string, unknown>;
}

/**
 * Builds the program for one stack from its own Pulumi.<stack>.yaml plus `overrides` (by default,
 * the test secrets), the way `pulumi up` would, but against mocks.
 */
export async function buildStack(
    stack: string,
    overrides: Record<string, { value: string; secret?: boolean }> = testSecrets(stack),
    previousOutputs: Record<string, unknown> = {},
    mocks: RecordingMocks = new RecordingMocks(),
    edit: (values: Record<string, string>) => void = () => {},
): Promise<BuiltStack> {
    const raw = readStackFile(stack, { overrides });
    const values = { ...raw.values };
    edit(values);
    pulumi.runtime.setAllConfig(values, [...raw.secretKeys]);
    mocks.previousOutputs = previousOutputs;
    await pulumi.runtime.setMocks(mocks, raw.project, stack, false, "organization");

    for (const key of Object.keys(require.cache)) {
        if (
            key.startsWith(repoRoot) &&
            !key.includes(`${path.sep}node_modules${path.sep}`) &&
            !key.includes(`${path.sep}test${path.sep}`)
        ) {
            delete require.cache[key];
        }
    }
    // The program is an async function (index.ts's `export =`), as Pulumi runs it; what it returns
    // are the stack outputs. Required afresh, as the language host does, through the same loader.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const program = require(path.join(repoRoot, "index.ts")) as () => Promise<Record<string, unknown>>;
    const outputs = await program();
    const exports: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(outputs)) {
        exports[name] = await promiseOf(pulumi.output(value));
    }
    await pulumi.runtime.disconnect();
    return { mocks, exports };
}

/**
 * Runs `declare` against fresh mocks for `stack` and waits until every resource it declared is
 * registered.
 */
export async function declareUnderMocks(
    declare: () => unknown,
    options: { stack?: string; config?: Record<string, string> } = {},
): Promise<RecordingMocks> {
    pulumi.runtime.setAllConfig(options.config ?? {}, []);
    const mocks = new RecordingMocks();
    await pulumi.runtime.setMocks(mocks, "cicd-pipeline", options.stack ?? "test", false);
    const result = declare();
    if (result instanceof pulumi.Resource) await promiseOf(result.urn);
    await pulumi.runtime.disconnect();
    return mocks;
}
