/**
 * Who can read which credential: computed from the rendered workflow files (parsed as GitHub parses
 * them) and the credentials the stacks declare (components/credentials.ts), the way GitHub hands
 * secrets to jobs:
 *
 * - A job bound to an environment (`jobs.<id>.environment`) reads that environment's secrets, and
 *   only once the environment's protection rules (required reviewers, deployment branches and tags)
 *   have passed; an environment secret takes precedence over a repository or organization secret of
 *   the same name. A job bound to no environment reads repository and organization secrets only.
 *   https://docs.github.com/en/actions/reference/workflows-and-actions/deployments-and-environments#environment-secrets
 *   https://docs.github.com/en/actions/security-for-github-actions/security-guides/using-secrets-in-github-actions
 *   ("If a secret with the same name exists at multiple levels, the secret at the lowest level takes
 *   precedence ... environment-level secret takes precedence")
 * - Runs of pull requests from forks, and runs triggered by Dependabot, get no secrets at all
 *   (except GITHUB_TOKEN, read-only for forks).
 *
 * The pipeline declares no repository or organization secret, so a secret a job reads resolves to
 * the environment secret of the job's environment, or to nothing.
 */
import * as YAML from "yaml";
import { DeclaredCredential, deployStacks, secretNames } from "../credentials";

/** An environment as the stacks declare it: which stack declares it and what protects it. */
export interface EnvironmentRules {
    readonly name: string;
    readonly stack: string;
    readonly reviewers: number;
    readonly branches: readonly string[];
    readonly tags: readonly string[];
}

/** One secret (or variable) one job reads, and the declared credential it resolves to (if any). */
export interface Reach {
    readonly workflow: string;
    readonly job: string;
    readonly triggers: string;
    readonly environment?: string;
    readonly kind: DeclaredCredential["kind"];
    /** The secret's or variable's name. */
    readonly secret: string;
    readonly credential?: DeclaredCredential;
}

interface ParsedJob {
    readonly environment?: string | { readonly name: string };
    readonly [key: string]: unknown;
}

/** What triggers a workflow, in a few words: "push tags v*, workflow_dispatch". */
function triggers(on: unknown): string {
    if (typeof on === "string") return on;
    return Object.entries((on ?? {}) as Record<string, unknown>)
        .map(([event, filter]) => {
            const f = (filter ?? {}) as Record<string, string[]>;
            const what = ["branches", "tags"].filter((k) => f[k]).map((k) => `${k} ${f[k].join(" ")}`);
            return what.length ? `${event} ${what.join(", ")}` : event;
        })
        .join("; ");
}

/** Every `secrets.NAME` (or `vars.NAME`) a value (a job, parsed) refers to. */
function namesIn(value: unknown, context: "secrets" | "vars"): string[] {
    const text = JSON.stringify(value);
    const pattern = new RegExp(`\\b${context}\\.([A-Za-z_][A-Za-z0-9_]*)`, "g");
    return [...new Set([...text.matchAll(pattern)].map((m) => m[1]))].sort();
}

/** Each secret each job of the files reads, resolved against the declared credentials. */
export function reachability(
    files: Readonly<Record<string, string>>,
    credentials: readonly DeclaredCredential[],
): Reach[] {
    const out: Reach[] = [];
    for (const [file, text] of Object.entries(files).sort(([a], [b]) => a.localeCompare(b))) {
        const doc = YAML.parse(text) as { on: unknown; jobs: Record<string, ParsedJob> };
        for (const [id, job] of Object.entries(doc.jobs)) {
            const environment = typeof job.environment === "string" ? job.environment : job.environment?.name;
            for (const [kind, context] of [
                ["secret", "secrets"],
                ["variable", "vars"],
            ] as const) {
                for (const name of namesIn(job, context)) {
                    out.push({
                        workflow: file.replace(/^\.github\/workflows\//, ""),
                        job: id,
                        triggers: triggers(doc.on),
                        ...(environment ? { environment } : {}),
                        kind,
                        secret: name,
                        credential: credentials.find(
                            (c) => c.kind === kind && c.environment === environment && c.name === name,
                        ),
                    });
                }
            }
        }
    }
    return out;
}

/**
 * What breaks the pipeline's rules: a job not bound to the production environment that reaches a
 * production credential, a declared secret no job reads, a secret a job reads that no stack
 * declares where the job can read it.
 */
export function reachabilityProblems(
    reach: readonly Reach[],
    credentials: readonly DeclaredCredential[],
): string[] {
    const problems: string[] = [];
    for (const r of reach) {
        const where = `${r.workflow} job ${r.job} (${r.environment ? `environment ${r.environment}` : "no environment"})`;
        if (!r.credential) {
            problems.push(
                `${where} reads ${r.kind === "variable" ? "variable " : ""}${r.secret}, which no stack declares where that job can read it`,
            );
        } else if (
            r.credential.stack === deployStacks.production &&
            r.environment !== deployStacks.production
        ) {
            problems.push(`${where} reads ${r.secret} of the production stack`);
        }
    }
    for (const c of credentials) {
        if (!reach.some((r) => r.credential === c)) {
            problems.push(
                `${c.environment}/${c.name} (stack ${c.stack}${c.kind === "variable" ? ", variable" : ""}) is declared but no job reads it`,
            );
        }
    }
    return problems;
}

/** What a credential opens, for the second table. */
function unlocks(c: DeclaredCredential, credentials: readonly DeclaredCredential[]): string {
    switch (c.name) {
        case secretNames.pulumiConfigPassphrase: {
            // The stack file holds every secret the stack declares, encrypted with this passphrase.
            const keys = [
                ...new Set(
                    credentials
                        .filter((x) => x.stack === c.stack && "secret" in x.source)
                        .map((x) => ("secret" in x.source ? x.source.secret : "")),
                ),
            ].sort();
            return `decrypts stack ${c.stack}'s config (${keys.join(", ")}) and its state's secrets`;
        }
        case secretNames.pulumiAccessToken:
            return `reads and writes stack ${c.stack}'s state in Pulumi Cloud (as far as the token's scope allows)`;
        case secretNames.deploySshKey:
            return `runs releases on stack ${c.stack}'s hosts`;
        case secretNames.dockerPassword:
        case secretNames.dockerUsername:
            return `pushes images to the registry (stack ${c.stack}'s push account)`;
        case secretNames.githubAppPrivateKey:
            return "mints GitHub App installation tokens (the workflow asks for contents: read, members: read)";
        case secretNames.slackWebhook:
            return "posts to the Slack channel";
        default:
            return "";
    }
}

function protection(e: EnvironmentRules | undefined): string {
    if (!e) return "none";
    const refs = [...e.branches.map((b) => `branch ${b}`), ...e.tags.map((t) => `tag ${t}`)].join(", ");
    return `${e.reviewers > 0 ? "required reviewers; " : ""}${refs ? `only ${refs}` : "any ref"}`;
}

/** The two tables README shows, in Markdown. */
export function reachabilityMarkdown(
    allReach: readonly Reach[],
    credentials: readonly DeclaredCredential[],
    environments: readonly EnvironmentRules[],
): string {
    const env = (name?: string) => environments.find((e) => e.name === name);
    const reach = allReach.filter((r) => r.kind === "secret");
    const lines = [
        "Which job reads which secret (GitHub hands a job the secrets of the environment it is bound to, after that environment's rules pass):",
        "",
        "| workflow | job | runs on | environment | environment's rules | secrets it reads |",
        "| --- | --- | --- | --- | --- | --- |",
        ...[...new Set(reach.map((r) => `${r.workflow}\0${r.job}`))].map((key) => {
            const rows = reach.filter((r) => `${r.workflow}\0${r.job}` === key);
            const [r] = rows;
            const byOwner = new Map<string, string[]>();
            for (const x of rows) {
                const owner = x.credential ? `stack ${x.credential.stack}'s` : "**undeclared**";
                byOwner.set(owner, [...(byOwner.get(owner) ?? []), x.secret]);
            }
            const reads = [...byOwner].map(([owner, names]) => `${owner} ${names.join(", ")}`).join("; ");
            return `| ${r.workflow} | ${r.job} | ${r.triggers} | ${r.environment ?? "none"} | ${protection(env(r.environment))} | ${reads} |`;
        }),
        "",
        "What each credential opens, and which jobs can read it:",
        "",
        "| secret | environment | stack | opens | read by |",
        "| --- | --- | --- | --- | --- |",
        ...credentials
            .filter((c) => c.kind === "secret")
            .map((c) => {
                const readers = reach.filter((r) => r.credential === c).map((r) => `${r.workflow} ${r.job}`);
                return `| ${c.name} | ${c.environment} | ${c.stack} | ${unlocks(c, credentials)} | ${readers.join(", ") || "**no job**"} |`;
            }),
    ];
    return lines.join("\n");
}
