/**
 * A typed model of the part of GitHub Actions' workflow syntax the pipeline uses. Hardening rules are
 * part of the types: every job names itself, declares its permissions and a timeout, and every action
 * is a pinned reference from actions.ts, never a free-form `uses:` string.
 */

/** A `${{ ... }}` expression. */
export type Expression = `\${{ ${string} }}`;

/** Wraps an expression body: expr("github.sha") is "${{ github.sha }}". */
export function expr(body: string): Expression {
    return `\${{ ${body} }}`;
}

/** The body of an expression: exprBody(expr("github.sha")) is "github.sha". */
export function exprBody(e: Expression): string {
    return e.slice("${{ ".length, -" }}".length);
}

/** A reference to a repository or environment secret; only ever placed in an `env:` map. */
export function secret(name: string): Expression {
    if (!/^[A-Z][A-Z0-9_]*$/.test(name)) throw new Error(`not a secret name: ${name}`);
    return expr(`secrets.${name}`);
}

export type PermissionScope =
    | "actions"
    | "checks"
    | "contents"
    | "deployments"
    | "id-token"
    | "issues"
    | "packages"
    | "pages"
    | "pull-requests"
    | "security-events"
    | "statuses";
export type PermissionLevel = "read" | "write" | "none";
/** GITHUB_TOKEN scopes; an empty object grants nothing. */
export type Permissions = Readonly<Partial<Record<PermissionScope, PermissionLevel>>>;
/** Why a job needs each permission beyond `contents: read`; rendered as a comment beside it. */
export type PermissionReasons = Readonly<Partial<Record<PermissionScope, string>>>;

export interface Concurrency {
    readonly group: string;
    readonly "cancel-in-progress": boolean | Expression;
}

export interface PushTrigger {
    readonly branches?: readonly string[];
    readonly tags?: readonly string[];
}
export interface PullRequestTrigger {
    readonly branches?: readonly string[];
    readonly types?: readonly ("opened" | "synchronize" | "reopened" | "ready_for_review")[];
}
/** An input of a manually dispatched run; reaches scripts only through `env:`. */
export interface DispatchInput {
    readonly description: string;
    readonly required: boolean;
    readonly type: "string" | "boolean";
    readonly default?: string | number | boolean;
}
export interface Triggers {
    readonly push?: PushTrigger;
    readonly pull_request?: PullRequestTrigger | null;
    readonly schedule?: readonly { readonly cron: string }[];
    readonly workflow_dispatch?: null | { readonly inputs: Readonly<Record<string, DispatchInput>> };
}

/** A pinned action: repository (with sub-path if any), full commit SHA and the release it is. */
export interface PinnedAction {
    readonly action: string;
    readonly sha: string;
    readonly version: string;
}

export type Env = Readonly<Record<string, string>>;
export type Inputs = Readonly<Record<string, string | number | boolean>>;

/**
 * A finding of the zizmor analyser that a step accepts, with the reason; rendered as an inline
 * `# zizmor: ignore[rule]` comment on the step's `uses:` or `run:` line.
 */
export interface AcceptedFinding {
    readonly rule: string;
    readonly reason: string;
}

interface StepBase {
    readonly name: string;
    readonly accepts?: readonly AcceptedFinding[];
    readonly id?: string;
    readonly if?: Expression;
    readonly env?: Env;
    readonly "continue-on-error"?: boolean;
}

/** A shell step. Scripts never contain `${{ }}`: values arrive through `env:`. */
export interface RunStep extends StepBase {
    readonly run: string;
    readonly "working-directory"?: string;
}

/** An action step; `uses` is rendered as "<action>@<sha> # <version>". */
export interface UsesStep extends StepBase {
    readonly uses: PinnedAction;
    readonly with?: Inputs;
}

export type Step = RunStep | UsesStep;

export function isUsesStep(step: Step): step is UsesStep {
    return "uses" in step;
}

export interface Environment {
    readonly name: string;
    readonly url?: string;
}

export interface Matrix {
    readonly [key: string]: readonly string[];
}

export interface Job {
    /** Display name; for ci.yml it is the status check branch protection requires. */
    readonly name: string;
    readonly "runs-on": string;
    readonly permissions: Permissions;
    /** Required for every permission other than `contents: read` (renderWorkflow refuses without). */
    readonly permissionReasons?: PermissionReasons;
    readonly "timeout-minutes": number;
    readonly needs?: readonly string[];
    readonly if?: Expression;
    readonly environment?: Environment;
    readonly concurrency?: Concurrency;
    readonly strategy?: { readonly "fail-fast": boolean; readonly matrix: Matrix };
    readonly outputs?: Readonly<Record<string, Expression>>;
    readonly env?: Env;
    readonly steps: readonly Step[];
}

export interface Workflow {
    readonly name: string;
    /** Rendered as a comment under the file's header, not as YAML: what a reader should know first. */
    readonly description?: string;
    /** Findings the workflow as a whole accepts; rendered on its `on:` line. */
    readonly accepts?: readonly AcceptedFinding[];
    readonly on: Triggers;
    readonly permissions: Permissions;
    readonly concurrency?: Concurrency;
    readonly defaults?: { readonly run: { readonly shell: "bash" } };
    readonly jobs: Readonly<Record<string, Job>>;
}

/** The runner every job uses. */
export const runner = "ubuntu-latest";

/** bash with -eo pipefail: GitHub's default shell on Linux runs without pipefail. */
export const bashDefaults = { run: { shell: "bash" } } as const;
