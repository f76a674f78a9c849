import * as github from "@pulumi/github";
import * as pulumi from "@pulumi/pulumi";
import { repositoryRoles, RepositoryRole } from "./github-plan";

/** Arguments of a ReleaseTagRules component. */
export interface ReleaseTagRulesArgs {
    /** Repository name, without the owner. */
    readonly repository: pulumi.Input<string>;
    /** The ruleset's name on GitHub; unique within the repository. */
    readonly rulesetName: pulumi.Input<string>;
    /** Tag patterns that release, such as v*. */
    readonly tagPatterns: readonly string[];
    /** Repository roles whose members may create, move and delete release tags. */
    readonly roles: readonly RepositoryRole[];
    /** Team slugs (of the owner organization) whose members may too. Default: none. */
    readonly teams?: readonly string[];
}

/** Resolves team slugs to the numeric team IDs ruleset bypass actors require. */
function teamIds(slugs: readonly string[], opts: pulumi.InvokeOptions): pulumi.Output<number[]> {
    return pulumi.output(
        Promise.all(
            slugs.map(async (slug) => {
                try {
                    return Number((await github.getTeam({ slug, summaryOnly: true }, opts)).id);
                } catch (e) {
                    throw new pulumi.ResourceError(
                        `release manager team "${slug}" could not be resolved on GitHub (check the slug in github.releaseManagers.teams, ` +
                            `and that the token can read the organization's teams): ${e instanceof Error ? e.message : e}`,
                        opts.parent,
                    );
                }
            }),
        ),
    );
}

/**
 * Release tags: a tag ruleset that refuses anyone but the release managers creating, moving or
 * deleting a tag that releases to production. A pushed v* tag builds the production image and
 * asks for the deploy approval, so who may push one is part of the release's protection.
 */
export class ReleaseTagRules extends pulumi.ComponentResource {
    /** The ruleset's numeric ID on GitHub. */
    public readonly rulesetId: pulumi.Output<number>;

    constructor(name: string, args: ReleaseTagRulesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("cicd:repository:ReleaseTagRules", name, {}, opts);
        const invokeOpts = { parent: this };
        const roleActors = args.roles.map((role) => ({
            actorType: "RepositoryRole",
            actorId: repositoryRoles[role],
            bypassMode: "always",
        }));
        const bypassActors = teamIds(args.teams ?? [], invokeOpts).apply((ids) => [
            ...roleActors,
            ...ids.map((actorId) => ({ actorType: "Team", actorId, bypassMode: "always" })),
        ]);
        const ruleset = new github.RepositoryRuleset(
            `${name}-ruleset`,
            {
                repository: args.repository,
                name: args.rulesetName,
                target: "tag",
                enforcement: "active",
                conditions: {
                    refName: { includes: args.tagPatterns.map((p) => `refs/tags/${p}`), excludes: [] },
                },
                bypassActors,
                // Only the bypass actors may create, move (update) or delete a matching tag.
                rules: { creation: true, update: true, deletion: true },
            },
            { parent: this },
        );
        this.rulesetId = ruleset.rulesetId;
        this.registerOutputs({ rulesetId: this.rulesetId });
    }
}
