import * as github from "@pulumi/github";
import * as pulumi from "@pulumi/pulumi";

/** Arguments of a BranchRules component. */
export interface BranchRulesArgs {
    /** Repository name, without the owner. */
    readonly repository: pulumi.Input<string>;
    /** Branch name or pattern to protect. */
    readonly branch: pulumi.Input<string>;
    /** Status checks every pull request into the branch must pass. */
    readonly requiredChecks: pulumi.Input<string>[];
    /** Approving reviews a pull request needs; 0 requires a pull request without approvals. */
    readonly requiredApprovals: pulumi.Input<number>;
    /** Whether a pull request must be up to date with the branch before it merges. Default: false. */
    readonly requireUpToDate?: pulumi.Input<boolean>;
    /** Whether the rules bind administrators too. Default: false. */
    readonly includeAdministrators?: pulumi.Input<boolean>;
}

/**
 * Protects one branch the way the pipeline expects: changes arrive by pull request after the
 * required checks pass; force pushes and deletion are refused.
 */
export class BranchRules extends pulumi.ComponentResource {
    public readonly pattern: pulumi.Output<string>;

    constructor(name: string, args: BranchRulesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("cicd:repository:BranchRules", name, {}, opts);
        const rule = new github.BranchProtection(
            `${name}-rule`,
            {
                repositoryId: args.repository,
                pattern: args.branch,
                enforceAdmins: args.includeAdministrators ?? false,
                allowsForcePushes: false,
                allowsDeletions: false,
                requiredPullRequestReviews: [{ requiredApprovingReviewCount: args.requiredApprovals }],
                requiredStatusChecks: [
                    { strict: args.requireUpToDate ?? false, contexts: args.requiredChecks },
                ],
            },
            { parent: this },
        );
        this.pattern = rule.pattern;
        this.registerOutputs({ pattern: this.pattern });
    }
}
