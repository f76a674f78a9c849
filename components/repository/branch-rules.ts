import * as github from "@pulumi/github";
import * as pulumi from "@pulumi/pulumi";
import { githubActionsAppId, repositoryRoles } from "./github-plan";

export { githubActionsAppId };

/**
 * A ruleset's name on GitHub: the Pulumi project's name and what it protects. Names are unique
 * within a repository (GitHub refuses a second ruleset of the same name), so the project's name
 * keeps the pipeline's rulesets apart from any the repository already has.
 */
export function rulesetName(project: string, what: string): string {
    return `${project}: ${what}`;
}

/** Arguments of a BranchRules component. */
export interface BranchRulesArgs {
    /** Repository name, without the owner. */
    readonly repository: pulumi.Input<string>;
    /** Branch name to protect. */
    readonly branch: string;
    /** The ruleset's name on GitHub; unique within the repository. */
    readonly rulesetName: pulumi.Input<string>;
    /** Checks every pull request into the branch must pass: names of GitHub Actions jobs. */
    readonly requiredChecks: readonly string[];
    /** Approving reviews a pull request needs; 0 requires a pull request without approvals. */
    readonly requiredApprovals: pulumi.Input<number>;
    /** Whether a pull request must be up to date with the branch before it merges. Default: false. */
    readonly requireUpToDate?: pulumi.Input<boolean>;
    /** Whether the rules bind repository administrators too. Default: false. */
    readonly includeAdministrators?: boolean;
}

/**
 * Protects one branch with a repository ruleset: changes arrive by pull request after the required
 * checks, reported by GitHub Actions, pass; force pushes and deletion are refused.
 *
 * A ruleset rather than classic branch protection: a ruleset is created beside any classic rule
 * already protecting the branch (GitHub layers both, the stricter wins), so a first `pulumi up` on
 * a repository protected by hand succeeds, where creating a classic rule fails with "Name already
 * protected"; and a ruleset can bind each required check to the GitHub Actions app.
 */
export class BranchRules extends pulumi.ComponentResource {
    /** The protected branch. */
    public readonly branch: pulumi.Output<string>;
    /** The ruleset's numeric ID on GitHub. */
    public readonly rulesetId: pulumi.Output<number>;

    constructor(name: string, args: BranchRulesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("cicd:repository:BranchRules", name, {}, opts);
        const ruleset = new github.RepositoryRuleset(
            `${name}-ruleset`,
            {
                repository: args.repository,
                name: args.rulesetName,
                target: "branch",
                enforcement: "active",
                conditions: { refName: { includes: [`refs/heads/${args.branch}`], excludes: [] } },
                // Classic "include administrators" is a ruleset nobody bypasses; classic rules that
                // spare administrators are a ruleset repository admins bypass.
                bypassActors: args.includeAdministrators
                    ? []
                    : [{ actorType: "RepositoryRole", actorId: repositoryRoles.admin, bypassMode: "always" }],
                rules: {
                    // "Require pull request before merging", "Require approvals": merges only
                    // through a pull request with this many approving reviews.
                    pullRequest: { requiredApprovingReviewCount: args.requiredApprovals },
                    // "Require status checks to pass": each CI job, from GitHub Actions only;
                    // strict = the pull request must be up to date with the branch.
                    requiredStatusChecks: {
                        requiredChecks: args.requiredChecks.map((context) => ({
                            context,
                            integrationId: githubActionsAppId,
                        })),
                        strictRequiredStatusChecksPolicy: args.requireUpToDate ?? false,
                    },
                    // No force push, no deletion.
                    nonFastForward: true,
                    deletion: true,
                },
            },
            { parent: this },
        );
        this.branch = pulumi.output(args.branch);
        this.rulesetId = ruleset.rulesetId;
        this.registerOutputs({ branch: this.branch, rulesetId: this.rulesetId });
    }
}
