import * as pulumi from "@pulumi/pulumi";

/**
 * Resource options every Actions secret needs, for two known provider pitfalls:
 * - A changed value forces a replacement, and GitHub's create is an upsert: the default
 *   create-before-delete writes the new value, then deletes the secret by name, leaving none
 *   (pulumi/pulumi-github#223, #250). Deleting first keeps the new secret.
 * - `updatedAt` is GitHub's own timestamp, bumped on every write; diffing it shows a change on
 *   every refresh. `remoteUpdatedAt` stays watched: it is how a value changed outside Pulumi (in
 *   the GitHub UI) is noticed and written back.
 */
export function actionsSecretOptions(parent: pulumi.Resource): pulumi.CustomResourceOptions {
    return { parent, deleteBeforeReplace: true, ignoreChanges: ["updatedAt"] };
}
