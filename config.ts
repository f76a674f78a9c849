/**
 * The stack's whole configuration, validated once when the program starts and turned into one typed
 * object. Components never read config; index.ts passes them the parts they need.
 *
 * Every error names the key (as written in Pulumi.<stack>.yaml), what is wrong, and the fix.
 */
import * as pulumi from "@pulumi/pulumi";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { z } from "zod";
import { hostPatterns } from "./components/deploy/patterns";
import {
    githubPlans,
    planFeatures,
    PlanFeatures,
    repositoryRoles,
    repositoryVisibilities,
} from "./components/repository/github-plan";
import { PIDS_MAX, PIDS_MIN } from "./components/deploy/host-commands";
import { deploySecretKeys, requiredSecretKeys, SecretConfigKey } from "./components/credentials";

// ---------------------------------------------------------------------------------------------------
// Patterns. Anything that may reach a shell on a host is matched against a strict pattern here.

/** GitHub login: alphanumerics and single inner hyphens, at most 39 characters. */
const githubLogin = /^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$/;
/** GitHub team slug as it appears in URLs: lowercase, digits, hyphens, underscores. */
const teamSlug = /^[a-z0-9][a-z0-9_-]{0,99}$/;
/** GitHub repository name. */
const repositoryName = /^[A-Za-z0-9_.-]{1,100}$/;
/** A git branch name (a safe subset of git-check-ref-format). */
const branchName = /^(?!\/|.*(?:\/\/|\.\.|@\{|\/$|\.lock$|\.$))[A-Za-z0-9._/-]{1,200}$/;
/** A ref pattern GitHub accepts for deployment policies: ref characters plus the globs * ? [ ]. */
const refPattern = /^(?!\/|.*(?:\/\/|\.\.|@\{|\/$))[A-Za-z0-9._/*?[\]-]{1,200}$/;
const {
    image: imageRepository,
    version: imageTag,
    digest: imageDigest,
    hostAddress,
    user: unixUser,
    hostKey,
    hostName: resourceName,
    urlPath,
    proxyImage,
    instance,
    address: bindAddress,
    memory,
} = hostPatterns;
/** A relative path inside the app repository. */
const relativePath = /^(?![/-])(?!.*\.\.)[A-Za-z0-9._/-]+$/;

function refPatternBalanced(pattern: string): boolean {
    let open = false;
    for (const c of pattern) {
        if (c === "[") {
            if (open) return false;
            open = true;
        } else if (c === "]") {
            if (!open) return false;
            open = false;
        }
    }
    return !open;
}

/**
 * The proxy image every host runs unless deploy.proxyImage names another: the official HAProxy 2.6
 * image (2.6.34), pinned by the digest of its multi-platform index, so that whoever can push to
 * the haproxy repository cannot change what runs in front of the app. The digest is the one
 * docker-library/repo-info records for haproxy:2.6 (repos/haproxy/remote/2.6.md). To move to a
 * newer build: docker buildx imagetools inspect haproxy:2.6, and take its "Digest:".
 */
export const DEFAULT_PROXY_IMAGE =
    "haproxy:2.6@sha256:27d5ea8c22a63b2f072974b3d15e34816ee7f19fa68d13e37ec1d69e2a5df8d1";
/** Limits of each app container unless deploy.limits says otherwise. */
export const DEFAULT_LIMITS = { memory: "512m", pids: 512 } as const;

const port = z.number().int().min(1).max(65535);
const positive = z.number().int().min(1);

// ---------------------------------------------------------------------------------------------------
// The schema: one entry per top-level config key.

const githubSchema = z.strictObject({
    owner: z.string().regex(githubLogin, {
        error: "must be a GitHub user or organization name, such as acme (no @, no URL)",
    }),
    repository: z.string().regex(repositoryName, {
        error: "must be the repository name without the owner, such as web-app",
    }),
    repositoryObjectsStack: z.string().regex(/^[A-Za-z0-9_.-]+$/, {
        error: "must name the one stack (such as production) that declares branch protection, repository secrets and workflow files",
    }),
    branches: z
        .strictObject({
            main: z
                .string()
                .regex(branchName, { error: "must be a branch name such as main" })
                .default("main"),
            develop: z
                .string()
                .regex(branchName, { error: "must be a branch name such as develop" })
                .default("develop"),
        })
        .prefault({}),
    requiredApprovals: z
        .number({ error: "must be a whole number of approving reviews, 1 or more" })
        .int({ error: "must be a whole number of approving reviews, 1 or more" })
        .min(1, { error: "must be at least 1: main requires an approving review before merging" })
        .max(6, { error: "must be at most 6 (GitHub's limit)" })
        .default(1),
    /** What GitHub offers the repository depends on it and the plan: see github-plan.ts. */
    visibility: z
        .enum(repositoryVisibilities, {
            error: "must be public, private or internal: the repository's visibility on GitHub",
        })
        .default("public"),
    plan: z
        .enum(githubPlans, {
            error: "must be free, pro, team or enterprise: the GitHub plan of the repository's owner",
        })
        .default("free"),
    /** Who may create, move or delete release tags; the release-tag ruleset lets only them. */
    releaseManagers: z
        .strictObject({
            roles: z
                .array(
                    z.enum(Object.keys(repositoryRoles) as [keyof typeof repositoryRoles], {
                        error: `must be a repository role: ${Object.keys(repositoryRoles).join(", ")}`,
                    }),
                )
                .default([]),
            teams: z
                .array(
                    z.string().regex(teamSlug, {
                        error: "must be a team slug without the organization, such as release-managers",
                    }),
                )
                .default([]),
        })
        .refine((r) => r.roles.length + r.teams.length > 0, {
            error: "must name at least one repository role or team (such as roles: [admin]); otherwise nobody could create a release tag",
        })
        // Absent: repository administrators, as GitHub's own default bypass suggests.
        .default({ roles: ["admin"], teams: [] }),
});

const reviewersSchema = z
    .strictObject({
        users: z
            .array(
                z.string().regex(githubLogin, {
                    error: "must be a GitHub login without @, such as bob",
                }),
            )
            .default([]),
        teams: z
            .array(
                z.string().regex(teamSlug, {
                    error: "must be a team slug without the organization, such as platform-team",
                }),
            )
            .default([]),
    })
    .refine((r) => r.users.length + r.teams.length <= 6, {
        error: "lists more than 6 reviewers; GitHub allows at most 6 users and teams in total",
    })
    .prefault({});

const tagOrBranchPattern = (what: string) =>
    z
        .string()
        .regex(refPattern, {
            error: `must be a ${what} pattern such as ${what === "tag" ? "v*" : "develop or release/*"} (glob characters * ? [ ] only; no spaces, ^, $ or \\)`,
        })
        .refine(refPatternBalanced, { error: `must be a ${what} pattern with balanced [ ]` });

const environmentSchema = z.strictObject({
    name: z.string().regex(/^[a-z][a-z0-9-]{0,39}$/, {
        error: "must be a lowercase environment name such as staging or production",
    }),
    url: z.url({
        protocol: /^https?$/,
        error: "must be the environment's http(s) URL, such as https://staging.example.com",
    }),
    deployFrom: z
        .strictObject({
            branches: z.array(tagOrBranchPattern("branch")).default([]),
            tags: z.array(tagOrBranchPattern("tag")).default([]),
        })
        .refine((d) => d.branches.length + d.tags.length > 0, {
            error: "must list at least one branch or tag pattern, such as branches: [develop] or tags: [v*]",
        }),
    reviewers: reviewersSchema,
    preventSelfReview: z.boolean().default(true),
    adminsBypass: z.boolean().default(false),
    waitTimerMinutes: z.number().int().min(0).max(43200).default(0),
});

const hostSchema = z.strictObject({
    name: z.string().regex(resourceName, { error: "must be a short lowercase name such as web-1" }),
    address: z
        .string()
        .regex(hostAddress, { error: "must be a host name or IP address, such as web-1.example.com" }),
    port: port.default(22),
    hostKey: z
        .string()
        // The command provider pins a host key by offering only the key's own type as host key
        // algorithm (pulumi-command 1.2.1, provider/pkg/provider/remote/connection.go, SSHConfig:
        // HostKeyAlgorithms = []string{publicKey.Type()}); for an RSA key that is "ssh-rsa", SHA-1
        // signatures, which OpenSSH 8.8 and later refuse: the connection would always fail.
        .refine((k) => !k.startsWith("ssh-rsa "), {
            error: 'an ssh-rsa host key cannot be pinned (the command provider then asks for SHA-1 signatures, which OpenSSH 8.8+ refuses): pin the host\'s ed25519 or ECDSA key, e.g. the output of: ssh-keyscan -t ed25519 HOST | cut -d" " -f2-',
            abort: true,
        })
        .regex(hostKey, {
            error: 'must be the host\'s public key as "<type> <base64>", e.g. the output of: ssh-keyscan -t ed25519 HOST | cut -d" " -f2-',
        }),
});

const deploySchema = z
    .strictObject({
        user: z.string().regex(unixUser, { error: "must be a Unix user name such as deploy" }),
        hosts: z.array(hostSchema).min(1, { error: "must list at least one host" }),
        image: z.string().regex(imageRepository, {
            error: "must be an image repository without tag, such as registry.example.com/acme/web-app",
        }),
        resolveDigest: z.boolean().default(true),
        publicPort: port.default(80),
        appPort: port.default(8000),
        bluePort: port.default(18001),
        greenPort: port.default(18002),
        proxyImage: z
            .string()
            .regex(proxyImage, {
                error: `must be an image reference pinned by digest, such as ${DEFAULT_PROXY_IMAGE}`,
            })
            .default(DEFAULT_PROXY_IMAGE),
        /** Accept a proxyImage without @sha256: digest (its tag can be moved under the hosts). */
        allowUnpinnedProxyImage: z
            .boolean({ error: "must be true or false: whether proxyImage may be a tag without a digest" })
            .default(false),
        /** Limits of each app container. */
        limits: z
            .strictObject({
                memory: z
                    .string()
                    .regex(memory, { error: "must be a size in megabytes or gigabytes, such as 512m or 2g" })
                    .refine((m) => !m.endsWith("m") || Number(m.slice(0, -1)) >= 6, {
                        error: "must be at least 6m (Docker's minimum)",
                    })
                    .default(DEFAULT_LIMITS.memory),
                pids: z
                    .number({ error: `must be a whole number of processes, ${PIDS_MIN} to ${PIDS_MAX}` })
                    .int({ error: `must be a whole number of processes, ${PIDS_MIN} to ${PIDS_MAX}` })
                    .min(PIDS_MIN, { error: `must be at least ${PIDS_MIN}` })
                    .max(PIDS_MAX, { error: `must be at most ${PIDS_MAX}` })
                    .default(DEFAULT_LIMITS.pids),
            })
            .prefault({}),
        health: z
            .strictObject({
                path: z
                    .string()
                    .regex(urlPath, { error: "must be a URL path such as /health" })
                    .default("/health"),
                successes: positive.max(100).default(3),
                intervalMs: positive.max(60000).default(500),
                timeoutSeconds: positive.max(3600).default(60),
            })
            .prefault({}),
        smokePaths: z
            .array(z.string().regex(urlPath, { error: "must be a URL path such as /version" }))
            .default(["/health"]),
        batchSize: positive.max(100).default(1),
        /** Names this stack's app on its hosts, so several stacks can share a host. */
        instance: z
            .string()
            .regex(instance, { error: "must be lowercase letters, digits, _ or -, such as app" })
            .optional(),
        /** The address the proxy listens on; all addresses when unset. */
        bind: z.string().regex(bindAddress, { error: "must be an IP address such as 127.0.0.1" }).optional(),
        keepReleases: positive.max(100).default(20),
        /** Seconds a release waits for another release's lock on a host before failing. */
        lockTimeoutSeconds: z
            .number({ error: "must be a whole number of seconds, 0 to fail at once" })
            .int({ error: "must be a whole number of seconds, 0 to fail at once" })
            .min(0, { error: "must be 0 or more seconds" })
            .max(3600, { error: "must be at most 3600 seconds" })
            .default(120),
    })
    .refine((d) => new Set(d.hosts.map((h) => h.name)).size === d.hosts.length, {
        error: "host names must be unique",
        path: ["hosts"],
    })
    .refine((d) => new Set(d.hosts.map((h) => `${h.address}:${h.port}`)).size === d.hosts.length, {
        error: "lists one host (address and port) twice; each host is released once",
        path: ["hosts"],
    })
    .refine((d) => new Set([d.publicPort, d.bluePort, d.greenPort]).size === 3, {
        error: "publicPort, bluePort and greenPort must be three different ports",
        path: ["publicPort"],
    })
    .refine((d) => d.allowUnpinnedProxyImage || proxyImagePinned(d.proxyImage), {
        error:
            "is not pinned by digest: whoever can move its tag changes what runs in front of the app. " +
            "Fix: append its digest (docker buildx imagetools inspect IMAGE, the Digest: line), as in " +
            `${DEFAULT_PROXY_IMAGE}, or set deploy.allowUnpinnedProxyImage: true`,
        path: ["proxyImage"],
    });

/** Whether a proxy image reference names its digest. */
export function proxyImagePinned(reference: string): boolean {
    return /@sha256:[a-f0-9]{64}$/.test(reference);
}

const workflowsSchema = z
    .strictObject({
        pythonVersion: z
            .string()
            .regex(/^3\.[0-9]{1,2}$/, { error: 'must be a Python version such as "3.12"' })
            .default("3.12"),
        sourceDir: z
            .string()
            .regex(relativePath, { error: "must be a relative path such as app" })
            .default("app"),
        testDir: z
            .string()
            .regex(relativePath, { error: "must be a relative path such as tests" })
            .default("tests"),
        coverageThreshold: z.number().int().min(0).max(100).default(80),
        pulumiDir: z
            .string()
            .regex(relativePath, { error: "must be a relative path such as infra" })
            .default("infra"),
        dockerfile: z
            .string()
            .regex(relativePath, { error: "must be a relative path such as Dockerfile" })
            .default("Dockerfile"),
        requirements: z
            .array(
                z.string().regex(relativePath, {
                    error: "must be a relative path to a pip requirements file, such as requirements-dev.txt",
                }),
            )
            .min(1, { error: "must list at least one requirements file, such as requirements-dev.txt" })
            .default(["requirements.txt", "requirements-dev.txt"]),
        // Explicit so that the rendered files do not depend on which secrets happen to be set.
        slack: z
            .boolean({ error: "must be true or false: whether the workflows notify Slack" })
            .default(false),
    })
    // Every field has its default, so an absent object takes them all.
    .prefault({});

/** The GitHub App whose installation tokens the production deploy job's preview uses. */
const githubAppSchema = z.strictObject({
    clientId: z.string().regex(/^(?:Iv[0-9A-Za-z.]{2,40}|[0-9]{1,12})$/, {
        error: "must be the GitHub App's client ID (Iv23..., on the App's settings page) or its numeric App ID",
    }),
});

/**
 * A self-managed backend in S3, which the workflows reach through GitHub's OIDC token: each job that
 * runs Pulumi assumes the stack's AWS role (whose trust policy admits only that stack's GitHub
 * environment). Absent: Pulumi Cloud, with the pulumiAccessToken secret.
 */
const backendSchema = z.strictObject({
    url: z
        .string()
        .regex(/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](?:\/[A-Za-z0-9._/-]*)?(?:\?region=[a-z0-9-]+)?$/, {
            error: "must be an S3 backend URL such as s3://acme-pulumi-state/web-app?region=eu-west-1 (the workflows reach S3 only; for Pulumi Cloud leave backend out)",
        }),
    awsRoleArn: z.string().regex(/^arn:aws[a-z-]*:iam::[0-9]{12}:role\/[A-Za-z0-9+=,.@_/-]{1,512}$/, {
        error: "must be the ARN of the IAM role the stack's workflow jobs assume, such as arn:aws:iam::123456789012:role/pulumi-staging",
    }),
    awsRegion: z.string().regex(/^[a-z]{2}(?:-gov)?-[a-z]+-[0-9]$/, {
        error: "must be an AWS region such as eu-west-1",
    }),
});

/** Object-valued keys, parsed from the JSON Pulumi hands the program. */
const objectKeys = {
    backend: backendSchema.optional(),
    github: githubSchema.optional(),
    githubApp: githubAppSchema.optional(),
    environment: environmentSchema,
    deploy: deploySchema.optional(),
    workflows: workflowsSchema,
} as const;

/** Plain scalar keys. */
const scalarKeys = {
    version: z
        .string()
        .regex(imageTag, { error: "must be an image tag such as 1.4.2 (letters, digits, . _ - only)" })
        .optional(),
    digest: z
        .string()
        .regex(imageDigest, { error: "must be a digest such as sha256:<64 hex digits>" })
        .optional(),
    /**
     * "true" in the CD workflows' `pulumi up`: the program declares only the release (no GitHub
     * objects, no GitHub API call), and the up targets it, so no GitHub credential is needed.
     */
    releaseOnly: z
        .enum(["true", "false"], { error: 'must be "true" or "false"' })
        .optional()
        .transform((v) => v === "true"),
} as const;

/** Secret keys: set with `pulumi config set --secret`, never stored in plaintext. */
const secretKeys = {
    dockerUsername: "the registry user name the stack's CD jobs push with",
    dockerPassword: "the registry password or access token the stack's CD jobs push with",
    deploySshKey: "the deploy user's SSH private key (PEM or OpenSSH format)",
    slackWebhook: "the Slack incoming-webhook URL",
    pulumiAccessToken:
        "the Pulumi Cloud access token this stack's workflow jobs log in with (scope it to this stack)",
    pulumiConfigPassphrase: "the passphrase that encrypts this stack's secrets; each stack has its own",
    githubAppPrivateKey:
        "the private key (PEM) of the GitHub App whose read-only tokens the production deploy job previews with",
} as const satisfies Record<SecretConfigKey, string>;
type SecretKey = keyof typeof secretKeys;

/**
 * The GitHub provider's token key. Refused: a token stored in a stack reaches every job that can
 * decrypt the stack, and a personal access token every repository its owner can reach.
 */
const githubTokenKey = "github:token";

/** Keys that earlier versions accepted, with why they are gone and what to do instead. */
const retiredKeys: Readonly<Record<string, string>> = {
    pulumiBackendUrl:
        "the workflows reach Pulumi Cloud (pulumiAccessToken) or an S3 backend through OIDC (the backend key: url, awsRoleArn, awsRegion; see README, Backends)",
};

/** Secrets read from a file rather than typed at the prompt. */
const secretFromFile: Partial<Record<SecretKey, string>> = {
    deploySshKey: "~/.ssh/deploy_ed25519",
    githubAppPrivateKey: "~/Downloads/<app>.private-key.pem",
};

const configSchema = z.strictObject({ ...objectKeys, ...scalarKeys });
type ParsedConfig = z.infer<typeof configSchema>;

// ---------------------------------------------------------------------------------------------------
// The typed result.

export type GithubSettings = NonNullable<ParsedConfig["github"]> & {
    /** Whether this stack declares the repository-wide objects. */
    readonly ownsRepositoryObjects: boolean;
    /** What GitHub offers this repository on its owner's plan. */
    readonly features: PlanFeatures;
};
export type EnvironmentSettings = ParsedConfig["environment"];
export type DeploySettings = NonNullable<ParsedConfig["deploy"]>;
export type HostSettings = DeploySettings["hosts"][number];
export type WorkflowSettings = ParsedConfig["workflows"];
export type Secrets = { readonly [K in SecretKey]?: pulumi.Output<string> };
export type GithubAppSettings = NonNullable<ParsedConfig["githubApp"]>;
export type BackendSettings = NonNullable<ParsedConfig["backend"]>;

export interface PipelineConfig {
    readonly project: string;
    readonly stack: string;
    /** GitHub side; absent for a stack that manages no GitHub objects. */
    readonly github?: GithubSettings;
    readonly environment: EnvironmentSettings;
    /** Target hosts; absent for a stack that deploys nowhere. */
    readonly deploy?: DeploySettings;
    readonly workflows: WorkflowSettings;
    /** The GitHub App the production deploy job previews with; absent elsewhere. */
    readonly githubApp?: GithubAppSettings;
    /** The S3 backend the workflows reach through OIDC; absent for Pulumi Cloud. */
    readonly backend?: BackendSettings;
    /** The app version (image tag) to serve and, when known, its digest. */
    readonly release: { readonly version?: string; readonly digest?: string };
    /** Whether this run declares only the release (the CD workflows' targeted `pulumi up`). */
    readonly releaseOnly: boolean;
    /** Secret values, each an Output marked secret. */
    readonly secrets: Secrets;
}

/** Raised when the stack's configuration is invalid; lists every problem at once. */
export class ConfigError extends Error {
    constructor(
        readonly stack: string,
        readonly problems: string[],
    ) {
        super(
            `Invalid configuration for stack "${stack}" (Pulumi.${stack}.yaml):\n` +
                problems.map((p) => `  - ${p}`).join("\n"),
        );
        this.name = "ConfigError";
    }
}

/** The raw inputs of `parseConfig`: what Pulumi hands the program. */
export interface RawConfig {
    readonly project: string;
    readonly stack: string;
    /** Keys as "<project>:<key>" with string values (objects arrive as JSON). */
    readonly values: Readonly<Record<string, string>>;
    /** Keys ("<project>:<key>") whose values are secrets. */
    readonly secretKeys: ReadonlySet<string>;
}

/** Options of `parseConfig`. */
export interface ParseOptions {
    /**
     * Whether missing secrets are errors. Default: true. Rendering the workflow files offline
     * needs no secret values, so it turns this off.
     */
    readonly requireSecrets?: boolean;
    /** Stacks with a committed Pulumi.<stack>.yaml; when given, github.repositoryObjectsStack must be one. */
    readonly knownStacks?: readonly string[];
}

function keyPath(project: string, path: readonly PropertyKey[]): string {
    let s = `${project}:${String(path[0])}`;
    for (const p of path.slice(1)) s += typeof p === "number" ? `[${p}]` : `.${String(p)}`;
    return s;
}

/** The command that sets a secret; it prompts for the value, so the value stays out of shell history. */
function setSecretCommand(raw: RawConfig, key: SecretKey): string {
    const file = secretFromFile[key];
    return `pulumi config set --secret -s ${raw.stack} ${key}` + (file ? ` < ${file}` : "");
}

/**
 * Validates raw config and builds the typed object. Pure apart from wrapping secrets as Outputs,
 * so tests can feed it any configuration.
 */
export function parseConfig(raw: RawConfig, options: ParseOptions = {}): PipelineConfig {
    const problems: string[] = [];
    const prefix = `${raw.project}:`;
    const known = new Set<string>([...Object.keys(configSchema.shape), ...Object.keys(secretKeys)]);

    const input: Record<string, unknown> = {};
    for (const [fullKey, value] of Object.entries(raw.values)) {
        if (!fullKey.startsWith(prefix)) continue; // provider config such as github:token
        const key = fullKey.slice(prefix.length);
        if (key in retiredKeys) {
            problems.push(
                `${fullKey}: is no longer used: ${retiredKeys[key]}. Fix: pulumi config rm -s ${raw.stack} ${key}`,
            );
            continue;
        }
        if (!known.has(key)) {
            problems.push(
                `${fullKey}: unknown key. Known keys: ${[...known].sort().join(", ")}. Fix: pulumi config rm -s ${raw.stack} ${key}`,
            );
            continue;
        }
        if (key in secretKeys) continue;
        if (key in objectKeys) {
            try {
                input[key] = JSON.parse(value);
            } catch {
                problems.push(
                    `${fullKey}: must be an object (a YAML mapping under the key), got ${JSON.stringify(value)}`,
                );
            }
        } else if (value !== "") {
            input[key] = value;
        }
        if (raw.secretKeys.has(fullKey)) {
            problems.push(
                `${fullKey}: is stored as a secret but is not one; store it in plaintext with pulumi config set`,
            );
        }
    }

    const result = configSchema.safeParse(input);
    if (!result.success) {
        for (const issue of result.error.issues) {
            if (issue.code === "unrecognized_keys") {
                for (const k of issue.keys) {
                    problems.push(
                        `${keyPath(raw.project, [...issue.path, k])}: unknown key; remove it or check its spelling`,
                    );
                }
            } else if (issue.code === "invalid_type" && issue.input === undefined) {
                problems.push(
                    `${keyPath(raw.project, issue.path)}: is required; set it in Pulumi.${raw.stack}.yaml`,
                );
            } else {
                problems.push(`${keyPath(raw.project, issue.path)}: ${issue.message}`);
            }
        }
    }

    const parsed = result.success ? result.data : undefined;
    // Read from the raw input too, so secret problems are reported alongside schema problems.
    const github = (parsed?.github ?? input.github) as { repositoryObjectsStack?: unknown } | undefined;
    const owns = github?.repositoryObjectsStack === raw.stack;
    if (
        typeof github?.repositoryObjectsStack === "string" &&
        options.knownStacks &&
        !options.knownStacks.includes(github.repositoryObjectsStack)
    ) {
        problems.push(
            `${prefix}github.repositoryObjectsStack: names "${github.repositoryObjectsStack}", which has no Pulumi.${github.repositoryObjectsStack}.yaml; ` +
                `no stack would declare branch protection, repository secrets or workflow files. Known stacks: ${options.knownStacks.join(", ")}`,
        );
    }
    const environmentName = (parsed?.environment ?? (input.environment as { name?: unknown } | undefined))
        ?.name;
    if (typeof environmentName === "string" && environmentName !== raw.stack) {
        problems.push(
            `${prefix}environment.name: is "${environmentName}" but must be the stack's name, "${raw.stack}": ` +
                `the workflows deploy stack ${raw.stack} through the GitHub environment of the same name`,
        );
    }

    const githubSettings = parsed?.github && {
        ...parsed.github,
        ownsRepositoryObjects: owns,
        features: planFeatures(parsed.github.plan, parsed.github.visibility),
    };
    // Which secrets this stack needs depends on what it declares (components/credentials.ts).
    const provisional: PipelineConfig | undefined = parsed && {
        project: raw.project,
        stack: raw.stack,
        github: githubSettings,
        environment: parsed.environment,
        deploy: parsed.deploy,
        workflows: parsed.workflows,
        githubApp: parsed.githubApp,
        backend: parsed.backend,
        release: {},
        releaseOnly: parsed.releaseOnly,
        secrets: {},
    };
    const required: Set<SecretKey> = provisional
        ? requiredSecretKeys(provisional)
        : // The schema failed: still report the secrets any stack of this shape needs.
          new Set<SecretKey>(github ? deploySecretKeys : input.deploy ? ["deploySshKey"] : []);
    if (
        provisional &&
        required.has("githubAppPrivateKey") &&
        !parsed?.githubApp &&
        options.requireSecrets !== false
    ) {
        problems.push(
            `${prefix}githubApp: is required for stack ${raw.stack}: its deploy job previews the whole stack (reviewers, workflow files) ` +
                `with a read-only GitHub App installation token. Create a GitHub App with Contents: read and Members: read, install it on ` +
                `the repository, then set githubApp.clientId in Pulumi.${raw.stack}.yaml and ${setSecretCommand(raw, "githubAppPrivateKey")}`,
        );
    }

    const secrets: Record<string, pulumi.Output<string>> = {};
    for (const key of Object.keys(secretKeys) as SecretKey[]) {
        const fullKey = prefix + key;
        const value = raw.values[fullKey];
        if (value === undefined || value === "") {
            if (required.has(key) && options.requireSecrets !== false) {
                problems.push(
                    `${fullKey}: is required (${secretKeys[key]}). Fix: ${setSecretCommand(raw, key)}`,
                );
            }
            continue;
        }
        if (!raw.secretKeys.has(fullKey) && key !== "dockerUsername") {
            problems.push(
                `${fullKey}: is stored in plaintext but must be a secret. Fix: pulumi config rm -s ${raw.stack} ${key} && ${setSecretCommand(raw, key)}`,
            );
            continue;
        }
        if (
            (key === "deploySshKey" || key === "githubAppPrivateKey") &&
            !/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(value)
        ) {
            problems.push(
                `${fullKey}: is not a private key (expected a -----BEGIN ... PRIVATE KEY----- block). Fix: ${setSecretCommand(raw, key)}`,
            );
            continue;
        }
        if (key === "slackWebhook" && !/^https:\/\/hooks\.slack\.com\/[A-Za-z0-9/_-]+$/.test(value)) {
            problems.push(
                `${fullKey}: must be a Slack incoming-webhook URL (https://hooks.slack.com/...). Fix: ${setSecretCommand(raw, key)}`,
            );
            continue;
        }
        secrets[key] = pulumi.secret(value);
    }
    const token = raw.values[githubTokenKey];
    if (token !== undefined && token !== "") {
        problems.push(
            `${githubTokenKey}: a GitHub token in the stack config is refused: whoever can decrypt the stack (every job holding ` +
                `its passphrase) could use it, and a personal access token reaches every repository of its owner. ` +
                `Fix: pulumi config rm -s ${raw.stack} ${githubTokenKey}; run pulumi up with your own token instead: ` +
                `GITHUB_TOKEN=$(gh auth token) pulumi up -s ${raw.stack} (the workflows mint short-lived GitHub App tokens)`,
        );
    }
    if (
        parsed?.workflows.slack &&
        owns &&
        !raw.values[prefix + "slackWebhook"] &&
        options.requireSecrets !== false
    ) {
        problems.push(
            `${prefix}workflows.slack: is true but the slackWebhook secret is not set. Fix: ${setSecretCommand(raw, "slackWebhook")}, or set workflows.slack to false`,
        );
    }
    if (parsed?.digest && !parsed.version) {
        problems.push(
            `${prefix}digest: is set without version; a digest pins one version's image. Set both, or remove it: pulumi config rm -s ${raw.stack} digest`,
        );
    }
    if (parsed?.github && !parsed.deploy) {
        problems.push(
            `${prefix}deploy: is required when github is set: the DEPLOY_USER and DEPLOY_HOST_* variables come from it`,
        );
    }
    if (parsed?.deploy && !parsed.deploy.resolveDigest && parsed.version && !parsed.digest) {
        problems.push(
            `${prefix}digest: is required with version when deploy.resolveDigest is false; set it with pulumi config set -s ${raw.stack} digest sha256:<64 hex digits>`,
        );
    }

    if (parsed) problems.push(...planProblems(raw, parsed));

    if (problems.length > 0 || !parsed) throw new ConfigError(raw.stack, problems);

    return {
        project: raw.project,
        stack: raw.stack,
        github: githubSettings,
        environment: parsed.environment,
        deploy: parsed.deploy,
        workflows: parsed.workflows,
        githubApp: parsed.githubApp,
        backend: parsed.backend,
        release: { version: parsed.version, digest: parsed.digest },
        releaseOnly: parsed.releaseOnly,
        secrets,
    };
}

/**
 * What the repository's plan and visibility allow, checked against what the stack asks for: the
 * pipeline needs environments (its deploy credentials are environment secrets) and rulesets, and
 * GitHub refuses required reviewers and wait timers where the plan lacks them (422).
 */
function planProblems(raw: RawConfig, parsed: ParsedConfig): string[] {
    const problems: string[] = [];
    const key = (k: string) => `${raw.project}:${k}`;
    const gh = parsed.github;
    const env = parsed.environment;
    const features = gh ? planFeatures(gh.plan, gh.visibility) : undefined;
    if (gh?.visibility === "internal" && gh.plan !== "enterprise") {
        problems.push(
            `${key("github.visibility")}: internal repositories exist only in a GitHub Enterprise; set github.plan to enterprise, or the visibility the repository has`,
        );
    } else if (gh && features && (!features.environments || !features.rulesets)) {
        problems.push(
            `${key("github.plan")}: GitHub ${gh.plan} has no environments, environment secrets or rulesets in ${gh.visibility} repositories, ` +
                `and the pipeline keeps its deploy credentials in environment secrets and protects main, develop and the release tags with rulesets. ` +
                `Fix: make the repository public (then set github.visibility: public), or move the owner to GitHub Pro, Team or Enterprise and set github.plan`,
        );
    }
    const reviewers = env.reviewers.users.length + env.reviewers.teams.length;
    if (features && !features.environmentProtection) {
        const why = `GitHub ${gh!.plan} offers no required reviewers or wait timers on environments of ${gh!.visibility} repositories (GitHub answers 422)`;
        if (reviewers > 0)
            problems.push(
                `${key("environment.reviewers")}: ${why}. Fix: remove environment.reviewers, or set github.plan/github.visibility to what the repository has`,
            );
        if (env.waitTimerMinutes > 0)
            problems.push(`${key("environment.waitTimerMinutes")}: ${why}. Fix: remove it, or set it to 0`);
    } else if ((env.name === "production" || env.deployFrom.tags.length > 0) && reviewers === 0) {
        problems.push(
            `${key("environment.reviewers")}: needs at least one required reviewer (production, and any environment released from tags): set reviewers.users or reviewers.teams`,
        );
    }
    return problems;
}

/** The Pulumi runtime's view of which config keys hold secrets (not in the SDK's public typings). */
function configSecretKeys(values: Readonly<Record<string, string>>): Set<string> {
    const runtime = pulumi.runtime as unknown as { isConfigSecret(key: string): boolean };
    return new Set(Object.keys(values).filter((k) => runtime.isConfigSecret(k)));
}

/** Reads and validates the running stack's configuration. */
export function loadConfig(): PipelineConfig {
    const values = pulumi.runtime.allConfig();
    return parseConfig(
        {
            project: pulumi.getProject(),
            stack: pulumi.getStack(),
            values,
            secretKeys: configSecretKeys(values),
        },
        { knownStacks: committedStacks(process.cwd()) },
    );
}

/**
 * Reads a committed Pulumi.<stack>.yaml as the runtime would see it: objects as JSON, `secure:`
 * values marked secret (their ciphertext is kept as the value; nothing here decrypts it).
 * `overrides` replace or add keys, for example test values of secrets.
 */
export function readStackFile(
    stack: string,
    options: { dir?: string; overrides?: Record<string, { value: string; secret?: boolean }> } = {},
): RawConfig {
    const dir = options.dir ?? __dirname;
    const project = YAML.parse(fs.readFileSync(path.join(dir, "Pulumi.yaml"), "utf8")).name as string;
    const file = YAML.parse(fs.readFileSync(path.join(dir, `Pulumi.${stack}.yaml`), "utf8")) ?? {};
    const values: Record<string, string> = {};
    const secretKeys = new Set<string>();
    for (const [key, value] of Object.entries<unknown>(file.config ?? {})) {
        const fullKey = key.includes(":") ? key : `${project}:${key}`;
        if (value !== null && typeof value === "object" && "secure" in value) {
            values[fullKey] = String((value as { secure: unknown }).secure);
            secretKeys.add(fullKey);
        } else {
            values[fullKey] = typeof value === "string" ? value : JSON.stringify(value);
        }
    }
    for (const [key, { value, secret }] of Object.entries(options.overrides ?? {})) {
        const fullKey = key.includes(":") ? key : `${project}:${key}`;
        values[fullKey] = value;
        if (secret) secretKeys.add(fullKey);
        else secretKeys.delete(fullKey);
    }
    return { project, stack, values, secretKeys };
}

/** Stacks with a committed Pulumi.<stack>.yaml in `dir`. */
export function committedStacks(dir: string): string[] {
    return fs
        .readdirSync(dir)
        .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
        .filter((s): s is string => s !== undefined)
        .sort();
}
