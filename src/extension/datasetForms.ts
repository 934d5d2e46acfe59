// No `vscode` import: the unit tests check this text against package.json's welcome view.

/**
 * What a dataset can be, told where a user sets data up: the Ingredients welcome view (its copy
 * in package.json `viewsWelcome` must contain this text; a unit test checks it), the tooltip of
 * the "Configure Evaluation Data…" row and the setup's "no datasets" warning.
 */
export const DATASET_FORMS =
  'A dataset is an .npz file (arrays x and y) or an image folder laid out as FOLDER/CLASS NAME/IMAGE (JPEG, PNG or WebP), as torchvision\'s ImageFolder reads it. The class order comes from "classes" in modelsoups.json, else the id2label of the model\'s config.json, else the sorted folder names; a folder that covers only some of the classes is scored among those classes.';
