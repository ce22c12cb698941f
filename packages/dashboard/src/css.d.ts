// Stylesheets are imported for esbuild, which bundles them into the hashed CSS file.
declare module "*.css";
