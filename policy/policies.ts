/**
 * The pipeline's policies. Each is written against resource inputs as the engine sees them (type
 * tokens and input names of the providers), not against this program's components, so it judges
 * a resource someone declares by hand in their own program the same way.
 *
 * Messages name the resource, what is wrong and the fix.
 */
import type {
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
} from "@pulumi/policy";
import * as YAML from "yaml";
import { hostPatterns } from "../components/deploy/patterns";
import { KEY_VARIABLE } from "../components/deploy/host-commands";
import { githubActionsAppId } from "../components/repository/github-plan";
import { releaseTagPatterns } from "../components/workflows/names";
import { PolicyStackConfig } from "./stack-config";

/** Type tokens of the resources the policies inspect, as the engine names them. */
export const types = {
    environment: "github:index/repositoryEnvironment:RepositoryEnvironment",
    ruleset: "github:index/repositoryRuleset:RepositoryRuleset",
    repositoryFile: "github:index/repositoryFile:RepositoryFile",
    remoteCommand: "command:remote:Command",
    localCommand: "command:local:Command",
} as const;

type Props = Record<string, unknown>;

/** The resource as a message names it: its type and name. */
function label(type: string, name: string): string {
    return `${type} "${name}"`;
}

const asRecord = (v: unknown): Props | undefined =>
    typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Props) : undefined;
const asArray = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** The name of the production environment, whose deploy job reads production's credentials. */
export const PRODUCTION = "production";

/** Problems of a production environment's protection; none when it is protected as required. */
export function productionEnvironmentProblems(props: Props): string[] {
    if (props.environment !== PRODUCTION) return [];
    const problems: string[] = [];
    const reviewers = asArray(props.reviewers).map(asRecord);
    const count = reviewers.reduce((n, r) => n + asArray(r?.users).length + asArray(r?.teams).length, 0);
    if (count === 0) {
        problems.push(
            "has no required reviewer, so a deploy job bound to it runs without anyone's approval. " +
                "Fix: set environment.reviewers (users or teams) in Pulumi.production.yaml",
        );
    }
    if (props.preventSelfReview !== true) {
        problems.push(
            "lets the person who started a deployment approve it (preventSelfReview is not true). " +
                "Fix: set environment.preventSelfReview: true",
        );
    }
    if (props.canAdminsBypass === true) {
        problems.push(
            "lets administrators bypass its protection rules (canAdminsBypass). Fix: set environment.adminsBypass: false",
        );
    }
    return problems;
}

/** Whether a ruleset's conditions include the given ref. */
function includesRef(props: Props, ref: string): boolean {
    const refName = asRecord(asRecord(props.conditions)?.refName);
    return asArray(refName?.includes).some((r) => r === ref);
}

/** Problems of a branch ruleset that covers the main branch. */
export function mainRulesetProblems(props: Props, mainBranch: string): string[] {
    if (props.target !== "branch" || !includesRef(props, `refs/heads/${mainBranch}`)) return [];
    const problems: string[] = [];
    if (props.enforcement !== "active") {
        problems.push(
            `is not enforced (enforcement ${JSON.stringify(props.enforcement)}). Fix: enforcement: "active"`,
        );
    }
    if (asArray(props.bypassActors).length > 0) {
        problems.push(
            "lets bypass actors (such as repository administrators) skip it, so it does not include administrators. " +
                "Fix: bypassActors: [] (github includeAdministrators)",
        );
    }
    const rules = asRecord(props.rules) ?? {};
    const approvals = asRecord(rules.pullRequest)?.requiredApprovingReviewCount;
    if (typeof approvals !== "number" || approvals < 1) {
        problems.push(
            `does not require an approving review of a pull request (requiredApprovingReviewCount ${JSON.stringify(approvals)}). ` +
                "Fix: rules.pullRequest.requiredApprovingReviewCount of 1 or more (github.requiredApprovals)",
        );
    }
    const checks = asArray(asRecord(rules.requiredStatusChecks)?.requiredChecks).map(asRecord);
    if (checks.length === 0) {
        problems.push(
            "requires no status check. Fix: rules.requiredStatusChecks.requiredChecks with the CI jobs (Lint, Test, Build, Security scan)",
        );
    }
    const unbound = checks.filter((c) => c?.integrationId !== githubActionsAppId).map((c) => c?.context);
    if (unbound.length > 0) {
        problems.push(
            `accepts the required check(s) ${unbound.map((c) => JSON.stringify(c)).join(", ")} from anyone who can post a commit status, ` +
                `not only from GitHub Actions. Fix: integrationId: ${githubActionsAppId} on every required check`,
        );
    }
    return problems;
}

/** Refs a release tag pattern covers, as a ruleset names it. */
const releaseTagRefs = releaseTagPatterns.map((p) => `refs/tags/${p}`);

/** Problems of a tag ruleset that covers a release tag pattern. */
export function releaseTagRulesetProblems(props: Props): string[] {
    if (props.target !== "tag" || !releaseTagRefs.some((ref) => includesRef(props, ref))) return [];
    const problems: string[] = [];
    if (props.enforcement !== "active") {
        problems.push(
            `is not enforced (enforcement ${JSON.stringify(props.enforcement)}). Fix: enforcement: "active"`,
        );
    }
    const rules = asRecord(props.rules) ?? {};
    const open = (["creation", "update", "deletion"] as const).filter((r) => rules[r] !== true);
    if (open.length > 0) {
        problems.push(
            `lets anyone with write access ${open.map((r) => ({ creation: "create", update: "move", deletion: "delete" })[r]).join(", ")} ` +
                `a release tag (${releaseTagPatterns.join(", ")}). Fix: rules ${open.map((r) => `${r}: true`).join(", ")}, ` +
                "with only the release managers as bypass actors (github.releaseManagers)",
        );
    }
    return problems;
}

/** A full commit SHA, the only pin nobody can move. */
const fullSha = /^[0-9a-f]{40}$/;

/** What is wrong with one `uses:` reference, or undefined when it is pinned. */
function usesProblem(uses: string): string | undefined {
    if (uses.startsWith("./")) return undefined; // an action or workflow of this repository
    if (uses.startsWith("docker://")) {
        return /@sha256:[0-9a-f]{64}$/.test(uses)
            ? undefined
            : `${uses} is a container image not pinned by digest`;
    }
    const at = uses.lastIndexOf("@");
    if (at < 0) return `${uses} names no version at all`;
    return fullSha.test(uses.slice(at + 1)) ? undefined : `${uses} is not pinned to a full commit SHA`;
}

/** Problems of a workflow file's content (GitHub Actions YAML). */
export function workflowProblems(content: string): string[] {
    let doc: unknown;
    try {
        doc = YAML.parse(content);
    } catch (e) {
        return [
            `is not valid YAML (${e instanceof Error ? e.message.split("\n")[0] : e}). Fix: render it again`,
        ];
    }
    const workflow = asRecord(doc);
    if (!workflow) return ["is not a workflow (no mapping at the top). Fix: render it again"];
    const problems: string[] = [];
    const jobs = Object.entries(asRecord(workflow.jobs) ?? {});
    const withoutPermissions = jobs
        .filter(([, job]) => asRecord(job)?.permissions === undefined)
        .map(([id]) => id);
    if (workflow.permissions === undefined && (jobs.length === 0 || withoutPermissions.length > 0)) {
        problems.push(
            `sets no permissions for the GITHUB_TOKEN (top level, or on job(s) ${withoutPermissions.join(", ")}), ` +
                "so the repository's default (possibly write-all) applies. Fix: permissions: {} at the top, and on each job only what it needs",
        );
    }
    for (const [id, value] of jobs) {
        const job = asRecord(value) ?? {};
        if (typeof job.uses === "string") {
            const p = usesProblem(job.uses);
            if (p)
                problems.push(`job ${id}: ${p}. Fix: pin it as owner/repo/path@<40-hex commit SHA> # <tag>`);
        }
        asArray(job.steps).forEach((s, i) => {
            const step = asRecord(s) ?? {};
            const where = `job ${id}, step ${JSON.stringify(step.name ?? step.id ?? i + 1)}`;
            if (typeof step.uses === "string") {
                const p = usesProblem(step.uses);
                if (p) problems.push(`${where}: ${p}. Fix: pin it as owner/repo@<40-hex commit SHA> # <tag>`);
            }
            if (typeof step.run === "string" && step.run.includes("${{")) {
                problems.push(
                    `${where}: a \${{ }} expression inside run:, which the runner pastes into the script before the shell ` +
                        'reads it (script injection). Fix: pass the value through the step\'s env: and use "${NAME}" in the script',
                );
            }
        });
    }
    return problems;
}

/** Whether a file path in a repository is a GitHub Actions workflow. */
export function isWorkflowPath(file: unknown): file is string {
    return typeof file === "string" && /^\.github\/workflows\/[^/]+\.ya?ml$/.test(file);
}

/** Secret-shaped values: what never belongs in a plain input, whatever its name. */
export const secretShapes: readonly { readonly what: string; readonly pattern: RegExp }[] = [
    { what: "a private key", pattern: /-----BEGIN [A-Z ]*PRIVATE KEY-----/ },
    { what: "a GitHub token", pattern: /\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})/ },
    { what: "a Pulumi access token", pattern: /\bpul-[0-9a-f]{40}\b/ },
    { what: "a Slack webhook URL", pattern: /https:\/\/hooks\.slack\.com\/services\/[A-Za-z0-9/_-]+/ },
    { what: "an AWS access key ID", pattern: /\bAKIA[0-9A-Z]{16}\b/ },
    { what: "a Docker Hub access token", pattern: /\bdckr_pat_[A-Za-z0-9_-]{20,}/ },
];

/**
 * Inputs that hold secrets by design, by resource type: the provider's schema marks each secret
 * (so its SDK sends it encrypted whatever the program passes), or, for a command's environment,
 * the variable the release command reads its key from, which the program marks secret. The policy
 * SDK (@pulumi/policy 1.21.0) hands policies inputs with secrets already unwrapped
 * (server.js: deserializeProperties(..., false)), so the policy judges where a secret goes.
 */
const secretInputs: Readonly<Record<string, readonly string[]>> = {
    "github:index/actionsSecret:ActionsSecret": [
        "plaintextValue",
        "encryptedValue",
        "value",
        "valueEncrypted",
    ],
    "github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret": [
        "plaintextValue",
        "encryptedValue",
        "value",
        "valueEncrypted",
    ],
    "github:index/actionsOrganizationSecret:ActionsOrganizationSecret": ["plaintextValue", "encryptedValue"],
    "github:index/dependabotSecret:DependabotSecret": ["plaintextValue", "encryptedValue"],
    [types.remoteCommand]: [
        "connection.privateKey",
        "connection.password",
        "connection.proxy.privateKey",
        "connection.proxy.password",
        `environment.${KEY_VARIABLE}`,
    ],
    [types.localCommand]: [`environment.${KEY_VARIABLE}`],
};

/** Every string in a value, with its path (a.b[0].c). */
function strings(value: unknown, path = ""): [string, string][] {
    if (typeof value === "string") return [[path, value]];
    if (Array.isArray(value)) return value.flatMap((v, i) => strings(v, `${path}[${i}]`));
    const record = asRecord(value);
    if (!record) return [];
    return Object.entries(record).flatMap(([k, v]) => strings(v, path ? `${path}.${k}` : k));
}

/** Plain inputs of a resource that hold a secret: the input's path and what it holds. */
export function plaintextSecrets(
    type: string,
    props: Props,
    secretValues: ReadonlyMap<string, string>,
): { path: string; what: string }[] {
    const allowed = secretInputs[type] ?? [];
    const found: { path: string; what: string }[] = [];
    for (const [path, text] of strings(props)) {
        if (allowed.includes(path)) continue;
        const keys = [...secretValues].filter(([, value]) => text.includes(value)).map(([key]) => key);
        if (keys.length > 0) {
            found.push({ path, what: `the value of the secret config key ${keys.join(", ")}` });
            continue;
        }
        const shape = secretShapes.find((s) => s.pattern.test(text));
        if (shape) found.push({ path, what: shape.what });
    }
    return found;
}

/** Options that make ssh trust whatever key a host presents. */
const unpinnedSsh = /StrictHostKeyChecking[= ]+(?:no|off|accept-new)|UserKnownHostsFile[= ]+\/dev\/null/i;

/** Problems of a command's host key pinning: remote commands pin one; none turns checking off. */
export function hostKeyProblems(type: string, props: Props): string[] {
    const problems: string[] = [];
    if (type === types.remoteCommand) {
        const connection = asRecord(props.connection) ?? {};
        const hostKey = connection.hostKey;
        const host = `${connection.host ?? "?"}:${connection.port ?? 22}`;
        if (typeof hostKey !== "string" || hostKey === "") {
            problems.push(
                `connects to ${host} without a pinned host key, so it trusts whatever key answers. ` +
                    `Fix: connection.hostKey "<type> <base64>" (deploy.hosts[].hostKey; ssh-keyscan -p PORT HOST, checked out of band)`,
            );
        } else if (!hostPatterns.hostKey.test(hostKey)) {
            problems.push(
                `pins ${host} to ${JSON.stringify(hostKey.slice(0, 40))}, which is not one public key "<type> <base64>". ` +
                    "Fix: the host key line's type and key, without the host field",
            );
        }
    }
    if (type === types.remoteCommand || type === types.localCommand) {
        for (const field of ["create", "update", "delete"]) {
            const text = props[field];
            if (typeof text === "string" && unpinnedSsh.test(text)) {
                problems.push(
                    `its ${field} command turns off ssh's host key check (${text.match(unpinnedSsh)?.[0]}). ` +
                        "Fix: pin the host's key in a known_hosts file and keep StrictHostKeyChecking=yes",
                );
            }
        }
        // The release orchestrator: every --host 'NAME ADDRESS PORT KEYTYPE KEY' carries its key.
        const create = props.create;
        if (typeof create === "string") {
            for (const m of create.matchAll(/--host '([^']*)'/g)) {
                const words = m[1].trim().split(/\s+/);
                const key = words.slice(3).join(" ");
                if (words.length !== 5 || !hostPatterns.hostKey.test(key)) {
                    problems.push(
                        `releases to host ${JSON.stringify(words[0])} without a pinned host key (--host ${JSON.stringify(m[1])}). ` +
                            "Fix: deploy.hosts[].hostKey",
                    );
                }
            }
        }
    }
    return problems;
}

/** Reports each problem of a resource as one violation naming it. */
function reportAll(args: ResourceValidationArgs, report: ReportViolation, problems: string[]): void {
    for (const p of problems) report(`${label(args.type, args.name)} ${p}`, args.urn);
}

/** The policies, given the stack's config (policy/stack-config.ts). */
export function pipelinePolicies(config: PolicyStackConfig): {
    resources: ResourceValidationPolicy[];
    stack: StackValidationPolicy[];
} {
    const reviewers = (level: "mandatory" | "advisory"): ResourceValidationPolicy => ({
        name: level === "mandatory" ? "production-reviewers" : "production-reviewers-plan-limited",
        description:
            level === "mandatory"
                ? "The production environment has at least one required reviewer, prevents self-review and lets no administrator bypass it."
                : "Where the stack declares a GitHub plan without required reviewers, production's missing protection is reported, not refused.",
        enforcementLevel: level,
        validateResource: (args, report) => {
            if (args.type !== types.environment) return;
            // Mandatory unless the stack declares the plan's limits; then this one is advisory.
            if ((level === "advisory") !== config.planLimitsReviewers) return;
            const problems = productionEnvironmentProblems(args.props);
            const limits =
                level === "advisory"
                    ? ` (github.plan ${config.plan ?? "free"}, github.visibility ${config.visibility ?? "public"} offer no required reviewers: ` +
                      "only the deployment policy and the release-tag ruleset protect production)"
                    : "";
            reportAll(
                args,
                report,
                problems.map((p) => p + limits),
            );
        },
    });
    return {
        resources: [
            reviewers("mandatory"),
            reviewers("advisory"),
            {
                name: "main-branch-protection",
                description:
                    "The main branch's ruleset requires approving reviews, includes administrators and requires checks reported by GitHub Actions.",
                enforcementLevel: "mandatory",
                validateResource: (args, report) => {
                    if (args.type !== types.ruleset) return;
                    reportAll(args, report, mainRulesetProblems(args.props, config.mainBranch));
                },
            },
            {
                name: "release-tags-protected",
                description:
                    "Release tags (v*) can be created, moved or deleted only by the release managers.",
                enforcementLevel: "mandatory",
                validateResource: (args, report) => {
                    if (args.type !== types.ruleset) return;
                    reportAll(args, report, releaseTagRulesetProblems(args.props));
                },
            },
            {
                name: "workflow-files-hardened",
                description:
                    "Every workflow file pins each action to a full commit SHA, sets permissions, and has no ${{ }} expression inside run:.",
                enforcementLevel: "mandatory",
                validateResource: (args, report) => {
                    if (args.type !== types.repositoryFile || !isWorkflowPath(args.props.file)) return;
                    const content = args.props.content;
                    if (typeof content !== "string") return;
                    reportAll(
                        args,
                        report,
                        workflowProblems(content).map((p) => `(${args.props.file}) ${p}`),
                    );
                },
            },
            {
                name: "no-plaintext-secrets",
                description: "No secret value is a plain input of any resource.",
                enforcementLevel: "mandatory",
                validateResource: (args, report) => {
                    for (const { path, what } of plaintextSecrets(
                        args.type,
                        args.props,
                        config.secretValues,
                    )) {
                        report(
                            `${label(args.type, args.name)} has ${what} in its plain input ${path}, where every preview, ` +
                                "the state and its logs show it. Fix: pass it only to a secret input (an Actions secret's value, " +
                                `an SSH connection's privateKey, the release command's ${KEY_VARIABLE}), from config set with ` +
                                "pulumi config set --secret, as pulumi.secret(...)",
                            args.urn,
                        );
                    }
                },
            },
            {
                name: "deploy-host-key-pinned",
                description:
                    "Every deploy host is reached with its host key pinned; no command turns ssh's key check off.",
                enforcementLevel: "mandatory",
                validateResource: (args, report) =>
                    reportAll(args, report, hostKeyProblems(args.type, args.props)),
            },
        ],
        stack: [
            {
                name: "repository-protection-declared",
                description:
                    "A stack that declares repository-wide objects declares the main branch's ruleset and the release-tag ruleset too.",
                enforcementLevel: "mandatory",
                validateStack: (args: StackValidationArgs, report) => {
                    for (const p of missingProtection(args.resources, config.mainBranch)) report(p);
                },
            },
        ],
    };
}

/**
 * What a stack that declares repository-wide objects (a ruleset or a workflow file) leaves
 * unprotected: main without a ruleset, release tags without one.
 */
export function missingProtection(resources: readonly PolicyResource[], mainBranch: string): string[] {
    const rulesets = resources.filter((r) => r.type === types.ruleset);
    const ownsRepository =
        rulesets.length > 0 ||
        resources.some((r) => r.type === types.repositoryFile && isWorkflowPath(r.props.file));
    if (!ownsRepository) return [];
    const problems: string[] = [];
    if (
        !rulesets.some((r) => r.props.target === "branch" && includesRef(r.props, `refs/heads/${mainBranch}`))
    ) {
        problems.push(
            `the stack declares repository-wide objects but no ruleset protects branch ${mainBranch}. ` +
                `Fix: declare a branch ruleset for refs/heads/${mainBranch} (the program's BranchRules "main")`,
        );
    }
    for (const ref of releaseTagRefs) {
        if (!rulesets.some((r) => r.props.target === "tag" && includesRef(r.props, ref))) {
            problems.push(
                `the stack declares repository-wide objects but no ruleset protects the release tags ${ref}. ` +
                    `Fix: declare a tag ruleset for ${ref} (the program's ReleaseTagRules)`,
            );
        }
    }
    return problems;
}
