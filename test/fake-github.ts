/**
 * A small model of one GitHub repository and of the pulumi-github 6.15.0 provider (which bundles
 * terraform-provider-github v6.13.0) acting on it, so that tests can run the program against a
 * repository that already has protection, environments and secrets, and run it again the way the
 * Pulumi engine would: diffing what the program declares against what the provider stored.
 *
 * Every behaviour is taken from the provider's source (git tag v6.13.0 of
 * integrations/terraform-provider-github, files under github/) or from GitHub's documentation and
 * error reports; each is cited where it is modelled. What is not modelled is refused loudly, so a
 * test cannot pass by the fake accepting something it does not understand.
 */
import * as pulumi from "@pulumi/pulumi";
import { GithubPlan, RepositoryVisibility } from "../components/repository/github-plan";
import { RecordingMocks } from "../testkit/mocks";

const types = {
    branchProtection: "github:index/branchProtection:BranchProtection",
    ruleset: "github:index/repositoryRuleset:RepositoryRuleset",
    environment: "github:index/repositoryEnvironment:RepositoryEnvironment",
    policy: "github:index/repositoryEnvironmentDeploymentPolicy:RepositoryEnvironmentDeploymentPolicy",
    secret: "github:index/actionsSecret:ActionsSecret",
    environmentSecret: "github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret",
    environmentVariable: "github:index/actionsEnvironmentVariable:ActionsEnvironmentVariable",
} as const;

/**
 * Inputs whose change the provider answers with a replacement (ForceNew in the schema).
 * - BranchProtection: repository_id (resource_github_branch_protection.go:20-24).
 * - RepositoryRuleset: none (resource_github_repository_ruleset.go:35-683 has no ForceNew).
 * - RepositoryEnvironment: environment (resource_github_repository_environment.go:40-44).
 * - RepositoryEnvironmentDeploymentPolicy: environment (resource_github_repository_environment_deployment_policy.go:41-46).
 * - ActionsSecret: secret_name (resource_github_actions_secret.go:47-53); value is updated in place.
 * - ActionsEnvironmentSecret: environment, secret_name (resource_github_actions_environment_secret.go:41-53).
 * - ActionsEnvironmentVariable: environment, variable_name (resource_github_actions_environment_variable.go,
 *   schema); value is updated in place.
 */
const forceNew: Record<string, readonly string[]> = {
    [types.branchProtection]: ["repositoryId"],
    [types.ruleset]: [],
    [types.environment]: ["environment"],
    [types.policy]: ["environment"],
    [types.secret]: ["secretName"],
    [types.environmentSecret]: ["secretName", "environment"],
    [types.environmentVariable]: ["variableName", "environment"],
};

/** An error GitHub's API returns, as the provider passes it on. */
export class GithubApiError extends Error {}

/** A classic branch protection rule on GitHub. */
interface ClassicRule {
    readonly nodeId: string;
    readonly pattern: string;
}

/** A ruleset on GitHub, in the provider's (and Pulumi's) property names. */
export interface GithubRuleset {
    readonly id: number;
    readonly name: string;
    readonly target: string;
    readonly conditions: { refName: { includes: string[]; excludes: string[] } };
    readonly bypassActors: { actorId?: number; actorType: string; bypassMode: string }[];
    readonly rules: Record<string, unknown>;
}

/** An environment on GitHub. */
export interface GithubEnvironment {
    reviewers: { users: number[]; teams: number[] } | undefined;
    waitTimer: number;
    preventSelfReview: boolean;
    canAdminsBypass: boolean;
}

/** A secret on GitHub: its value and GitHub's updated_at timestamp. */
interface GithubSecret {
    value: string;
    updatedAt: string;
}

/** What the Pulumi state holds for one resource: its ID, and the inputs and outputs the provider stored. */
export interface StoredResource {
    readonly type: string;
    readonly id: string;
    readonly state: Record<string, unknown>;
}

/** One resource operation the engine performed. */
export interface Step {
    readonly op: "create" | "same" | "update" | "replace" | "delete";
    readonly type: string;
    readonly name: string;
    /** For update and replace: the inputs that differ. */
    readonly diffs?: string[];
}

/** One repository on GitHub, and the Pulumi state of one stack that manages it. */
export class FakeGithub {
    readonly repository = "web-app";
    /** The repository's GraphQL node ID, what the provider's importer stores as repository_id. */
    readonly repositoryNodeId = "R_kgDOLnb2Jw";
    readonly classicRules: ClassicRule[] = [];
    readonly rulesets: GithubRuleset[] = [];
    readonly environments = new Map<string, GithubEnvironment>();
    readonly secrets = new Map<string, GithubSecret>();
    /** Environment variables, as "<environment>:<name>" to value. */
    readonly variables = new Map<string, string>();
    /** Deployment branch and tag policies by environment, as "branch <pattern>" or "tag <pattern>". */
    readonly deploymentPolicies = new Map<string, string[]>();
    /** The stack's state, by resource name (names are unique in the programs tested). */
    readonly stack = new Map<string, StoredResource>();
    private nextRulesetId = 4_200_001;
    private clock = Date.parse("2026-01-01T00:00:00Z");

    constructor(
        readonly plan: GithubPlan = "team",
        readonly visibility: RepositoryVisibility = "public",
    ) {}

    private now(): string {
        this.clock += 1000;
        return new Date(this.clock).toISOString();
    }

    // -------------------------------------------------------------------------------------------
    // GitHub's side, set up by a test: what the repository had before Pulumi.

    /** A classic branch protection rule made by hand in the repository's settings. */
    protectByHand(pattern: string): void {
        this.classicRules.push({ nodeId: `BPR_${pattern}`, pattern });
    }

    /** An environment made by hand, with deployment policies ("branch main", "tag v*"). */
    environmentByHand(name: string, policies: string[]): void {
        this.environments.set(name, {
            reviewers: undefined,
            waitTimer: 0,
            preventSelfReview: false,
            canAdminsBypass: true,
        });
        this.deploymentPolicies.set(name, [...policies]);
    }

    /** An environment variable made by hand in the repository's settings. */
    variableByHand(environment: string, name: string, value: string): void {
        this.variables.set(`${environment}:${name}`, value);
    }

    /** A secret changed outside Pulumi (in GitHub's settings page): GitHub bumps its updated_at. */
    changeSecretByHand(name: string, value: string): void {
        const secret = this.secrets.get(name);
        if (!secret) throw new Error(`no secret ${name}`);
        this.secrets.set(name, { value, updatedAt: this.now() });
    }

    /**
     * A commit status or check run with this context from this source: does it satisfy the ruleset's
     * required checks for that context? A required check with an integration_id accepts only
     * results from that app; anyone with write access can post a commit status through the
     * statuses API, and such a status carries no app ("Require status checks to pass": "you can
     * select [...] the expected source", docs.github.com/en/repositories/configuring-branches-and-merges-in-your-repository/managing-rulesets/available-rules-for-rulesets).
     */
    satisfiesRequiredCheck(ruleset: GithubRuleset, context: string, appId: number | undefined): boolean {
        const checks = (
            ruleset.rules.requiredStatusChecks as {
                requiredChecks: { context: string; integrationId?: number }[];
            }
        ).requiredChecks;
        const check = checks.find((c) => c.context === context);
        if (!check) return true;
        return !check.integrationId || check.integrationId === appId;
    }

    /** What GitHub offers this repository, as its documentation says (independently of github-plan.ts). */
    features() {
        const isPublic = this.visibility === "public";
        return {
            // docs.github.com: rulesets in private repositories need Pro, Team or Enterprise.
            rulesets: isPublic || this.plan !== "free",
            // docs.github.com: environments in private repositories need Pro, Team or Enterprise;
            // required reviewers and wait timers need Enterprise.
            environments: isPublic || this.plan !== "free",
            environmentProtection: isPublic || this.plan === "enterprise",
        };
    }

    // -------------------------------------------------------------------------------------------
    // The provider: Create, Read, import, as terraform-provider-github v6.13.0 does them.

    /** The provider's Create, then the state it stores. Throws what GitHub answers. */
    create(type: string, inputs: Record<string, unknown>): StoredResource {
        switch (type) {
            case types.branchProtection: {
                // createBranchProtectionRule (resource_github_branch_protection.go:195-271): GitHub
                // refuses a second rule for a pattern (integrations/terraform-provider-github#1699).
                const pattern = String(inputs.pattern);
                if (this.classicRules.some((r) => r.pattern === pattern))
                    throw new GithubApiError(`Name already protected: ${pattern}`);
                const rule = { nodeId: `BPR_${pattern}_${this.classicRules.length}`, pattern };
                this.classicRules.push(rule);
                // Read (:273-366) never sets repository_id: the state keeps what the program passed.
                return { type, id: rule.nodeId, state: { ...inputs } };
            }
            case types.ruleset: {
                // Availability as documented (github-plan.ts); the wording of the refusal is not.
                if (!this.features().rulesets)
                    throw new GithubApiError(
                        "403 Upgrade to GitHub Pro or make this repository public to enable this feature.",
                    );
                const name = String(inputs.name);
                // Ruleset names are unique within a repository (integrations/terraform-provider-github
                // #2818, #2889: a second create of the same name fails).
                if (this.rulesets.some((r) => r.name === name))
                    throw new GithubApiError(`422 Validation Failed: Name must be unique`);
                const ruleset: GithubRuleset = {
                    id: this.nextRulesetId++,
                    name,
                    target: String(inputs.target),
                    conditions: inputs.conditions as GithubRuleset["conditions"],
                    bypassActors: (inputs.bypassActors as GithubRuleset["bypassActors"]) ?? [],
                    rules: inputs.rules as Record<string, unknown>,
                };
                this.rulesets.push(ruleset);
                // resource_github_repository_ruleset.go:687-725: the ID is the numeric ruleset ID.
                return { type, id: String(ruleset.id), state: this.readRuleset(ruleset) };
            }
            case types.environment: {
                const name = String(inputs.environment);
                const reviewers = (
                    inputs.reviewers as { users: number[]; teams: number[] }[] | undefined
                )?.[0];
                const waitTimer = Number(inputs.waitTimer ?? 0);
                // The provider always sends prevent_self_review and can_admins_bypass, and
                // wait_timer only when not 0 (resource_github_repository_environment.go:358-398).
                // Availability as documented; the wording of the refusal is not.
                if (!this.features().environments)
                    throw new GithubApiError(
                        `404 Not Found: environments are not available for ${this.visibility} repositories on GitHub ${this.plan}`,
                    );
                if ((reviewers || waitTimer > 0) && !this.features().environmentProtection)
                    // backstage/backstage#28977 (GitHub Team, private repository).
                    throw new GithubApiError(
                        "422 Failed to create the environment protection rule. Please ensure the billing plan supports the required reviewers protection rule.",
                    );
                if (inputs.preventSelfReview === true && !reviewers)
                    // github-community-projects/safe-settings#628.
                    throw new GithubApiError(
                        "422 Failed to create or update the environment protection rule. Required reviewers must have at least one reviewer to set prevent_self_review.",
                    );
                // CreateUpdateEnvironment is a PUT (:173-203): an existing environment is adopted.
                this.environments.set(name, {
                    reviewers,
                    waitTimer,
                    preventSelfReview: inputs.preventSelfReview === true,
                    canAdminsBypass: inputs.canAdminsBypass !== false,
                });
                return { type, id: `${this.repository}:${name}`, state: { ...inputs } };
            }
            case types.secret:
            case types.environmentSecret: {
                const key = this.secretKey(inputs);
                const updatedAt = this.now();
                this.secrets.set(key, { value: String(inputs.value), updatedAt });
                // Create stores GitHub's updated_at as both updated_at and remote_updated_at
                // (resource_github_actions_secret.go:192-205).
                return {
                    type,
                    id: key,
                    state: { ...inputs, updatedAt, remoteUpdatedAt: updatedAt },
                };
            }
            case types.environmentVariable: {
                // Create is client.Actions.CreateEnvVariable (resource_github_actions_environment_variable.go,
                // v6.13.0), a POST to .../environments/{env}/variables that does not look first; a later
                // provider turned it into CreateOrUpdate. Modelled as refused when the name exists, the
                // conservative reading: README says what to do then (delete the variable; the stack
                // file holds its value).
                const key = `${String(inputs.environment)}:${String(inputs.variableName)}`;
                if (this.variables.has(key))
                    throw new GithubApiError(`409 Conflict: Already exists - ${key}`);
                this.variables.set(key, String(inputs.value));
                return { type, id: `${this.repository}:${key}`, state: { ...inputs } };
            }
            case types.policy: {
                const env = String(inputs.environment);
                const policy = inputs.branchPattern
                    ? `branch ${inputs.branchPattern}`
                    : `tag ${inputs.tagPattern}`;
                const list = this.deploymentPolicies.get(env) ?? [];
                if (!list.includes(policy)) list.push(policy);
                this.deploymentPolicies.set(env, list);
                return {
                    type,
                    id: `${this.repository}:${String(inputs.environment)}:${String(inputs.branchPattern ?? inputs.tagPattern)}`,
                    state: { ...inputs },
                };
            }
            case "github:index/branch:Branch":
            case "github:index/repositoryFile:RepositoryFile":
            case "github:index/repositoryPullRequest:RepositoryPullRequest":
                // The workflow files' delivery: not what these tests are about; kept as declared.
                return { type, id: `${type}:${JSON.stringify(inputs).length}`, state: { ...inputs } };
            default:
                if (type.startsWith("github:"))
                    throw new Error(`the fake does not model ${type}: model it before a test relies on it`);
                return { type, id: "", state: { ...inputs } };
        }
    }

    /** `pulumi import <type> <name> <id>`: the provider's importer, then its Read. */
    import(name: string, type: string, importId: string): void {
        switch (type) {
            case types.branchProtection: {
                // resource_github_branch_protection.go:463-484: the ID is "<repository>:<pattern>";
                // repository_id is set to the repository's node ID (getRepositoryID,
                // util_v4_repository.go:11-46), the resource ID to the rule's node ID.
                const [repository, pattern] = importId.split(":", 2);
                if (repository !== this.repository) throw new GithubApiError(`no repository ${repository}`);
                const rule = this.classicRules.find((r) => r.pattern === pattern);
                if (!rule)
                    throw new GithubApiError(
                        `could not find a branch protection rule with the pattern '${pattern}'`,
                    );
                this.stack.set(name, {
                    type,
                    id: rule.nodeId,
                    state: { repositoryId: this.repositoryNodeId, pattern },
                });
                return;
            }
            case types.ruleset: {
                // resource_github_repository_ruleset.go:851-884: the ID is "<repository>:<ruleset id>";
                // repository is set to the repository's name; Read (:727-793) fills the rest.
                const [repository, idText] = importId.split(":", 2);
                if (repository !== this.repository) throw new GithubApiError(`no repository ${repository}`);
                const ruleset = this.rulesets.find((r) => String(r.id) === idText);
                if (!ruleset) throw new GithubApiError(`404 ruleset ${idText} not found`);
                this.stack.set(name, { type, id: idText, state: this.readRuleset(ruleset) });
                return;
            }
            default:
                throw new Error(`the fake does not model importing ${type}`);
        }
    }

    /** `pulumi refresh`: each resource's Read. */
    refresh(): void {
        for (const [name, stored] of this.stack) {
            if (stored.type === types.secret || stored.type === types.environmentSecret) {
                const secret = this.secrets.get(stored.id);
                if (!secret) {
                    this.stack.delete(name);
                    continue;
                }
                // Read (resource_github_actions_secret.go:211-255): updated_at only when empty,
                // remote_updated_at always.
                this.stack.set(name, {
                    ...stored,
                    state: { ...stored.state, remoteUpdatedAt: secret.updatedAt },
                });
            } else if (stored.type === types.ruleset) {
                const ruleset = this.rulesets.find((r) => String(r.id) === stored.id);
                if (ruleset) this.stack.set(name, { ...stored, state: this.readRuleset(ruleset) });
                else this.stack.delete(name);
            }
        }
    }

    /** The state Read stores for a ruleset (:764-790, flattenRules in util_rules.go:660-885). */
    private readRuleset(ruleset: GithubRuleset): Record<string, unknown> {
        const rules = ruleset.rules;
        return {
            repository: this.repository,
            name: ruleset.name,
            target: ruleset.target,
            enforcement: "active",
            bypassActors: ruleset.bypassActors,
            conditions: ruleset.conditions,
            // Absent boolean rules read back as false (util_rules.go:668-672, 675-686).
            rules: {
                creation: false,
                deletion: false,
                update: false,
                updateAllowsFetchAndMerge: false,
                requiredLinearHistory: false,
                requiredSignatures: false,
                nonFastForward: false,
                ...rules,
                ...(rules.pullRequest
                    ? {
                          pullRequest: {
                              dismissStaleReviewsOnPush: false,
                              requireCodeOwnerReview: false,
                              requireLastPushApproval: false,
                              requiredReviewThreadResolution: false,
                              allowedMergeMethods: ["merge", "squash", "rebase"],
                              ...(rules.pullRequest as object),
                          },
                      }
                    : {}),
                ...(rules.requiredStatusChecks
                    ? {
                          requiredStatusChecks: {
                              doNotEnforceOnCreate: false,
                              strictRequiredStatusChecksPolicy: false,
                              ...(rules.requiredStatusChecks as object),
                          },
                      }
                    : {}),
            },
            rulesetId: ruleset.id,
            nodeId: `RRS_${ruleset.id}`,
        };
    }

    private secretKey(inputs: Record<string, unknown>): string {
        return inputs.environment
            ? `${String(inputs.environment)}:${String(inputs.secretName)}`
            : String(inputs.secretName);
    }

    /** The provider's Delete. */
    delete(stored: StoredResource): void {
        switch (stored.type) {
            case types.branchProtection: {
                const i = this.classicRules.findIndex((r) => r.nodeId === stored.id);
                if (i >= 0) this.classicRules.splice(i, 1);
                return;
            }
            case types.ruleset: {
                const i = this.rulesets.findIndex((r) => String(r.id) === stored.id);
                if (i >= 0) this.rulesets.splice(i, 1);
                return;
            }
            case types.secret:
            case types.environmentSecret:
                this.secrets.delete(stored.id);
                return;
            case types.environment:
                this.environments.delete(String(stored.state.environment));
                return;
            case types.environmentVariable:
                this.variables.delete(
                    `${String(stored.state.environment)}:${String(stored.state.variableName)}`,
                );
                return;
        }
    }

    /**
     * The provider's Diff, as the engine asks it: the declared inputs against the stored state.
     * An input the program sets must equal what the state holds; object inputs are compared by
     * the keys the program sets (the provider fills the others with defaults or computed values).
     * Besides, for secrets, diffSecret (util_diff.go:83-105): a remote_updated_at that differs from
     * updated_at means the value was changed elsewhere, and plans an update.
     */
    diff(stored: StoredResource, inputs: Record<string, unknown>): { diffs: string[]; replace: boolean } {
        const diffs = Object.keys(inputs)
            .filter((k) => !k.startsWith("__"))
            .filter((k) => !covers(stored.state[k], inputs[k]))
            .sort();
        if (
            (stored.type === types.secret || stored.type === types.environmentSecret) &&
            stored.state.remoteUpdatedAt !== stored.state.updatedAt
        )
            diffs.push("updatedAt");
        return { diffs, replace: diffs.some((k) => forceNew[stored.type]?.includes(k)) };
    }

    /** The provider's Update: the changed inputs are written; secrets are written anew. */
    update(stored: StoredResource, inputs: Record<string, unknown>): StoredResource {
        if (stored.type === types.secret || stored.type === types.environmentSecret) {
            const updatedAt = this.now();
            this.secrets.set(stored.id, { value: String(inputs.value), updatedAt });
            return { ...stored, state: { ...inputs, updatedAt, remoteUpdatedAt: updatedAt } };
        }
        if (stored.type === types.ruleset) {
            const i = this.rulesets.findIndex((r) => String(r.id) === stored.id);
            const ruleset = {
                ...this.rulesets[i],
                ...(inputs as object),
                id: this.rulesets[i].id,
            } as GithubRuleset;
            this.rulesets[i] = ruleset;
            return { ...stored, state: this.readRuleset(ruleset) };
        }
        if (stored.type === types.environment) return this.create(stored.type, inputs);
        if (stored.type === types.environmentVariable) {
            // Update is a PATCH of the value (UpdateEnvVariable).
            this.variables.set(
                `${String(inputs.environment)}:${String(inputs.variableName)}`,
                String(inputs.value),
            );
        }
        return { ...stored, state: { ...stored.state, ...inputs } };
    }
}

/** Whether `stored` holds every value `declared` sets. */
function covers(stored: unknown, declared: unknown): boolean {
    if (Array.isArray(declared)) {
        return (
            Array.isArray(stored) &&
            stored.length === declared.length &&
            declared.every((d, i) => covers(stored[i], d))
        );
    }
    if (declared !== null && typeof declared === "object") {
        if (stored === null || typeof stored !== "object") return false;
        return Object.entries(declared).every(([k, v]) => covers((stored as Record<string, unknown>)[k], v));
    }
    return stored === declared;
}

/**
 * Mocks that run the program the way `pulumi up` runs it against the fake repository: each
 * declared resource is created, left as it is, updated or replaced (created before the old one is
 * deleted, the engine's default) by comparing it with the stack's state; resources the state
 * holds that the program no longer declares are deleted at the end (`finish`). A failed create
 * is recorded and fails the resource, as it fails `pulumi up`.
 */
export class EngineMocks extends RecordingMocks {
    readonly steps: Step[] = [];
    readonly failures: { name: string; message: string }[] = [];
    private readonly declared = new Set<string>();

    constructor(readonly github: FakeGithub) {
        super();
    }

    newResource(args: pulumi.runtime.MockResourceArgs): { id: string; state: Record<string, unknown> } {
        const recorded = super.newResource(args);
        if (!args.type.startsWith("github:index/")) return recorded;
        const inputs = this.resources[this.resources.length - 1].inputs;
        this.declared.add(args.name);
        const old = this.github.stack.get(args.name);
        try {
            let next: StoredResource;
            if (!old) {
                next = this.github.create(args.type, inputs);
                this.steps.push({ op: "create", type: args.type, name: args.name });
            } else {
                const { diffs, replace } = this.github.diff(old, inputs);
                if (diffs.length === 0) {
                    next = old;
                    this.steps.push({ op: "same", type: args.type, name: args.name });
                } else if (replace) {
                    // Create before delete: the engine's default replacement order.
                    next = this.github.create(args.type, inputs);
                    this.github.delete(old);
                    this.steps.push({ op: "replace", type: args.type, name: args.name, diffs });
                } else {
                    next = this.github.update(old, inputs);
                    this.steps.push({ op: "update", type: args.type, name: args.name, diffs });
                }
            }
            this.github.stack.set(args.name, next);
            return { id: next.id, state: { ...recorded.state, ...next.state } };
        } catch (e) {
            const message = e instanceof Error ? e.message : String(e);
            this.failures.push({ name: args.name, message });
            throw e;
        }
    }

    call(args: pulumi.runtime.MockCallArgs): Record<string, unknown> {
        switch (args.token) {
            case "github:index/getBranchProtectionRules:getBranchProtectionRules":
                this.invokes.push({ token: args.token, args: args.inputs });
                // data_source_github_branch_protection_rules.go:36-85: every rule's pattern.
                return { rules: this.github.classicRules.map((r) => ({ pattern: r.pattern })) };
            case "github:index/getRepositoryEnvironmentDeploymentPolicies:getRepositoryEnvironmentDeploymentPolicies": {
                this.invokes.push({ token: args.token, args: args.inputs });
                // data_source_github_repository_environment_deployment_policies.go:58-66; an
                // environment that does not exist is GitHub's 404.
                const env = String(args.inputs.environment);
                if (!this.github.environments.has(env))
                    throw new GithubApiError(`404 environment ${env} not found`);
                return {
                    policies: (this.github.deploymentPolicies.get(env) ?? []).map((p) => {
                        const [type, pattern] = p.split(" ", 2);
                        return { type, pattern };
                    }),
                };
            }
            default:
                return super.call(args);
        }
    }

    /** The engine's last step: delete what the state holds and the program no longer declares. */
    finish(): void {
        for (const [name, stored] of [...this.github.stack]) {
            if (this.declared.has(name)) continue;
            this.github.delete(stored);
            this.github.stack.delete(name);
            this.steps.push({ op: "delete", type: stored.type, name });
        }
    }
}
