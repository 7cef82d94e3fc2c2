// Vite bundles the stylesheets the theme imports.
declare module '*.css';
