"""Training and evaluation of the crop model.

crop_tf.py    the crop geometry of extractor/geometry.py in TensorFlow ops (head, flip, loss)
pipeline.py   labels.csv → split by photo → tf.data (decode, resize, cache, augment, prefetch)
model.py      the architectures, their bounded crop head, the keep-the-frame decision, the ensemble's mean
losses.py     CropLoss (1 − corner-box IoU + a Huber, L1 or MSE value term, + the keep-the-frame logit's
              cross-entropy) and the training metric
options.py    TrainOptions: the arguments of a training run and their defaults (the command line's too)
train.py      `cropstyle train`: prepare, write the RUN's description, fit the members, combine them
metrics.py    IoU, boundary displacement error, angle error
baselines.py  full, mean, random and saliency croppers
evaluate.py   `cropstyle evaluate`: evaluate(run, datasets, out) -> metrics dict, contact sheet
drawing.py    crops drawn on photos (TensorBoard previews, contact sheet)
run.py        the RUN folder's layout (written by train) and Run.open, for evaluate, predict, apply and export
"""
