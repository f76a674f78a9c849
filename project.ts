/**
 * The project's folder, where Pulumi.yaml is. The program's modules name their files from it, not
 * from their own `__dirname`: `pulumi up` loads the program as one bundle (program-loader.js), in
 * which every module's `__dirname` is this folder.
 */
export const projectDir = __dirname;
