/** The software's name and version, as `version.bind` gives them (a test keeps it equal to package.json). */
export const SOFTWARE = 'edge-resolver';
export const SOFTWARE_VERSION = '0.1.0';
