"""The paper's published numbers, as cited reference values.

Every constant below is a number printed in (or plotted from the data behind) the paper

    C. Wei, C. Guo, et al., "Prosperity: Accelerating Spiking Neural Networks via
    Product Sparsity", HPCA 2025,

named after the figure it comes from, with that figure in ``*_SOURCE``. They are written
here as plain Python so that an installed harness can put the paper's value beside its own
without any data file. Reports look values up with :func:`paper_reference`; nothing here is
used to compute a result.

Workload names are the paper's (``vgg16_cifar10``, ``lenet5_mnist``, ...); accelerator
names are the paper's spelling (``Eyeriss``, ``PTB``, ``SATO``, ``MINT``, ``Stellar``,
``A100``, ``Prosperity``) and are matched case-insensitively. Tile configurations are
``(tile_m, tile_k)``; the paper's default is ``(256, 16)``.
"""

from __future__ import annotations

from collections.abc import Mapping

from prosparsity.reports.compare import Reference
from prosparsity.reports.metrics import Metric

PAPER = "Prosperity (HPCA 2025)"
DEFAULT_TILE = (256, 16)

# --------------------------------------------------------------------------------------
# Figure 11: bit density and product density of 19 workloads at tile 256 x 16.
# --------------------------------------------------------------------------------------
FIG11_SOURCE = f"{PAPER}, Fig. 11 (density at tile 256x16)"

FIG11_BIT_DENSITY: dict[str, float] = {
    'vgg16_cifar10': 0.0896311236752404,
    'vgg16_cifar100': 0.342091911368899,
    'vgg9_cifar10': 0.135011258332625,
    'vgg9_cifar10dvs': 0.0435934999714727,
    'resnet18_cifar10': 0.0908938331407514,
    'resnet18_cifar100': 0.0863184307847854,
    'lenet5_mnist': 0.253639946627197,
    'spikformer_cifar10': 0.149227398221829,
    'spikformer_cifar10dvs': 0.135885987326363,
    'spikformer_cifar100': 0.147364188273993,
    'sdt_cifar10': 0.14632822672526,
    'sdt_cifar10dvs': 0.115268163571412,
    'sdt_cifar100': 0.151792594714042,
    'spikebert_sst2': 0.131895698226607,
    'spikebert_mr': 0.305794575550892,
    'spikebert_sst5': 0.478754381517748,
    'spikingbert_sst2': 0.204874077358761,
    'spikingbert_qqp': 0.221496281323132,
    'spikingbert_mnli': 0.212678943668399,
}

FIG11_PRODUCT_DENSITY: dict[str, float] = {
    'vgg16_cifar10': 0.0248430437511867,
    'vgg16_cifar100': 0.0278573897149827,
    'vgg9_cifar10': 0.0455644027046535,
    'vgg9_cifar10dvs': 0.0178470404251762,
    'resnet18_cifar10': 0.025060983507663,
    'resnet18_cifar100': 0.0262870592085029,
    'lenet5_mnist': 0.0156137872264083,
    'spikformer_cifar10': 0.0483428041755353,
    'spikformer_cifar10dvs': 0.0354457035242954,
    'spikformer_cifar100': 0.0441038212416956,
    'sdt_cifar10': 0.0508084223820613,
    'sdt_cifar10dvs': 0.0262837289393633,
    'sdt_cifar100': 0.054780539488181,
    'spikebert_sst2': 0.0123278758189341,
    'spikebert_mr': 0.0504123527366477,
    'spikebert_sst5': 0.0243068758073869,
    'spikingbert_sst2': 0.0297604444864633,
    'spikingbert_qqp': 0.0410144350550196,
    'spikingbert_mnli': 0.0388498972128103,
}

# Stellar's FS-neuron density, as reported by the Stellar paper and quoted in Fig. 11.
FIG11_FS_NEURON_DENSITY_STELLAR: dict[str, float] = {
    'vgg16_cifar100': 0.098,
    'vgg9_cifar10': 0.0725,
    'vgg9_cifar10dvs': 0.0475,
    'lenet5_mnist': 0.0633,
}

# --------------------------------------------------------------------------------------
# Figure 8: end-to-end latency (s) and energy (mJ) of every accelerator on 16 workloads.
# Eyeriss_linear is the paper's Eyeriss variant that maps attention as linear layers;
# A100 rows are the authors' measurements; Stellar's are figures reported by its paper.
# --------------------------------------------------------------------------------------
FIG8_SOURCE = f"{PAPER}, Fig. 8"

FIG8_LATENCY_S: dict[str, dict[str, float]] = {
    'Eyeriss': {
        'vgg16_cifar10': 0.452082992,
        'vgg16_cifar100': 0.452082992,
        'resnet18_cifar10': 0.271896886,
        'resnet18_cifar100': 0.271896886,
        'spikformer_cifar10': 0.043813696,
        'spikformer_cifar10dvs': 0.072840462,
        'spikformer_cifar100': 0.043813696,
        'sdt_cifar10': 0.078773364,
        'sdt_cifar10dvs': 0.176618244,
        'sdt_cifar100': 0.078773364,
        'spikebert_sst2': 0.51768576,
        'spikebert_mr': 1.035383808,
        'spikebert_sst5': 0.51768576,
        'spikingbert_sst2': 0.690766016,
        'spikingbert_qqp': 0.690766016,
        'spikingbert_mnli': 0.690766016,
    },
    'Eyeriss_linear': {
        'vgg16_cifar10': 0.452082992,
        'vgg16_cifar100': 0.452082992,
        'resnet18_cifar10': 0.271896886,
        'resnet18_cifar100': 0.271896886,
        'spikformer_cifar10': 0.04441288,
        'spikformer_cifar10dvs': 0.073639374,
        'spikformer_cifar100': 0.04441288,
        'sdt_cifar10': 0.078798324,
        'sdt_cifar10dvs': 0.176649448,
        'sdt_cifar100': 0.078798324,
        'spikebert_sst2': 0.54420672,
        'spikebert_mr': 1.117186704,
        'spikebert_sst5': 0.54420672,
        'spikingbert_sst2': 0.71383896,
        'spikingbert_qqp': 0.71383896,
        'spikingbert_mnli': 0.71383896,
    },
    'PTB': {
        'vgg16_cifar10': 0.145917404,
        'vgg16_cifar100': 0.316902108,
        'resnet18_cifar10': 0.080507168,
        'resnet18_cifar100': 0.096489344,
        'spikformer_cifar10': 0.026904648,
        'spikformer_cifar10dvs': 0.040909656,
        'spikformer_cifar100': 0.026633496,
        'sdt_cifar10': 0.045647144,
        'sdt_cifar10dvs': 0.102943448,
        'sdt_cifar100': 0.04884964,
        'spikebert_sst2': 0.163542492,
        'spikebert_mr': 0.582481632,
        'spikebert_sst5': 0.392040156,
        'spikingbert_sst2': 0.350308384,
        'spikingbert_qqp': 0.428182048,
        'spikingbert_mnli': 0.413060512,
    },
    'SATO': {
        'vgg16_cifar10': 0.085968,
        'vgg16_cifar100': 0.38986304,
        'resnet18_cifar10': 0.03666688,
        'resnet18_cifar100': 0.035221376,
        'spikformer_cifar10': 0.019264128,
        'spikformer_cifar10dvs': 0.020084608,
        'spikformer_cifar100': 0.018713664,
        'sdt_cifar10': 0.028635136,
        'sdt_cifar10dvs': 0.042048880125,
        'sdt_cifar100': 0.029313792,
        'spikebert_sst2': 0.1763328,
        'spikebert_mr': 0.594264576,
        'spikebert_sst5': 0.42207744,
        'spikingbert_sst2': 0.224474112,
        'spikingbert_qqp': 0.23883264,
        'spikingbert_mnli': 0.230570496,
    },
    'MINT': {
        'vgg16_cifar10': 0.058755674,
        'vgg16_cifar100': 0.211236884,
        'resnet18_cifar10': 0.035428688,
        'resnet18_cifar100': 0.033798684,
        'spikformer_cifar10': 0.011410258,
        'spikformer_cifar10dvs': 0.019842806,
        'spikformer_cifar100': 0.011226078,
        'sdt_cifar10': 0.017565092,
        'sdt_cifar10dvs': 0.032064026,
        'sdt_cifar100': 0.018123748,
        'spikebert_sst2': 0.10954068,
        'spikebert_mr': 0.46055328,
        'spikebert_sst5': 0.351342576,
        'spikingbert_sst2': 0.205535364,
        'spikingbert_qqp': 0.219574812,
        'spikingbert_mnli': 0.21144786,
    },
    'Stellar': {
        'vgg16_cifar10': 0.040187906453781515,
        'vgg16_cifar100': 0.0776982117026379,
    },
    'A100': {
        'spikformer_cifar10': 0.019,
        'spikformer_cifar10dvs': 0.0114,
        'spikformer_cifar100': 0.019,
        'sdt_cifar10': 0.017,
        'sdt_cifar10dvs': 0.018,
        'sdt_cifar100': 0.018,
        'spikebert_sst2': 0.0372,
        'spikebert_mr': 0.0397,
        'spikebert_sst5': 0.033357901101108,
        'spikingbert_sst2': 0.0962026573102408,
        'spikingbert_qqp': 0.0920285156794956,
        'spikingbert_mnli': 0.0942276553078726,
    },
    'Prosperity': {
        'vgg16_cifar10': 0.021503906,
        'vgg16_cifar100': 0.033576808,
        'resnet18_cifar10': 0.01176426,
        'resnet18_cifar100': 0.011631254,
        'spikformer_cifar10': 0.00374337,
        'spikformer_cifar10dvs': 0.005257022,
        'spikformer_cifar100': 0.003539418,
        'sdt_cifar10': 0.006058754,
        'sdt_cifar10dvs': 0.008977544,
        'sdt_cifar100': 0.006365208,
        'spikebert_sst2': 0.031686,
        'spikebert_mr': 0.117063412,
        'spikebert_sst5': 0.045212796,
        'spikingbert_sst2': 0.056517224,
        'spikingbert_qqp': 0.061479068,
        'spikingbert_mnli': 0.06008602,
    },
}

FIG8_ENERGY_MJ: dict[str, dict[str, float]] = {
    'Eyeriss': {
        'vgg16_cifar10': 794.746324437184,
        'vgg16_cifar100': 794.746324437184,
        'resnet18_cifar10': 433.291974032216,
        'resnet18_cifar100': 433.291974032216,
        'spikformer_cifar10': 71.37256750208,
        'spikformer_cifar10dvs': 117.576815731896,
        'spikformer_cifar100': 71.37256750208,
        'sdt_cifar10': 127.560816168144,
        'sdt_cifar10dvs': 286.534199657232,
        'sdt_cifar100': 127.560816168144,
        'spikebert_sst2': 900.829000009728,
        'spikebert_mr': 1799.74727308492,
        'spikebert_sst5': 900.829000009728,
        'spikingbert_sst2': 1150.42153538022,
        'spikingbert_qqp': 1150.42153538022,
        'spikingbert_mnli': 1150.42153538022,
    },
    'Eyeriss_linear': {
        'vgg16_cifar10': 794.746324437184,
        'vgg16_cifar100': 794.746324437184,
        'resnet18_cifar10': 433.291974032216,
        'resnet18_cifar100': 433.291974032216,
        'spikformer_cifar10': 72.21771653408,
        'spikformer_cifar10dvs': 118.703681107896,
        'spikformer_cifar100': 72.21771653408,
        'sdt_cifar10': 127.596022248144,
        'sdt_cifar10dvs': 286.578212899232,
        'sdt_cifar100': 127.596022248144,
        'spikebert_sst2': 938.236814089728,
        'spikebert_mr': 1915.13025789292,
        'spikebert_sst5': 938.236814089728,
        'spikingbert_sst2': 1182.96592289222,
        'spikingbert_qqp': 1182.96592289222,
        'spikingbert_mnli': 1182.96592289222,
    },
    'PTB': {
        'vgg16_cifar10': 215.945490084416,
        'vgg16_cifar100': 383.852469412416,
        'resnet18_cifar10': 102.083081629184,
        'resnet18_cifar100': 117.777578461184,
        'spikformer_cifar10': 30.84825715392,
        'spikformer_cifar10dvs': 47.034967845504,
        'spikformer_cifar100': 30.58198588992,
        'sdt_cifar10': 52.434452483456,
        'sdt_cifar10dvs': 118.395372925568,
        'sdt_cifar100': 55.5793035554559,
        'spikebert_sst2': 239.520497873472,
        'spikebert_mr': 728.948732662272,
        'spikebert_sst5': 463.905203921471,
        'spikingbert_sst2': 425.451289509376,
        'spikingbert_qqp': 501.923227557376,
        'spikingbert_mnli': 487.073879205376,
    },
    'SATO': {
        'vgg16_cifar10': 166.74535579392,
        'vgg16_cifar100': 263.83982107392,
        'resnet18_cifar10': 55.85398391808,
        'resnet18_cifar100': 55.39214539008,
        'spikformer_cifar10': 14.6431419264,
        'spikformer_cifar10dvs': 19.57085653248,
        'spikformer_cifar100': 14.4672686784,
        'sdt_cifar10': 23.7352665907199,
        'sdt_cifar10dvs': 46.6080555000975,
        'sdt_cifar100': 23.95209718272,
        'spikebert_sst2': 207.63105214464,
        'spikebert_mr': 490.74345483264,
        'spikebert_sst5': 286.14646462464,
        'spikingbert_sst2': 227.85584781312,
        'spikingbert_qqp': 232.44339750912,
        'spikingbert_mnli': 229.80364250112,
    },
    'MINT': {
        'vgg16_cifar10': 112.882640401464,
        'vgg16_cifar100': 173.310943924464,
        'resnet18_cifar10': 42.434908057536,
        'resnet18_cifar100': 41.788937472336,
        'spikformer_cifar10': 9.98236966908,
        'spikformer_cifar10dvs': 16.325545614216,
        'spikformer_cifar100': 9.90937913508,
        'sdt_cifar10': 16.344423855024,
        'sdt_cifar10dvs': 34.047412162872,
        'sdt_cifar100': 16.565819227824,
        'spikebert_sst2': 140.737423925088,
        'spikebert_mr': 376.070435820288,
        'spikebert_sst5': 236.563515309888,
        'spikingbert_sst2': 181.896029984304,
        'spikingbert_qqp': 187.459863226704,
        'spikingbert_mnli': 184.239152149103,
    },
    'Stellar': {
        'vgg16_cifar10': 68.97243713068266,
        'vgg16_cifar100': 100.25603170822889,
    },
    'A100': {
        'spikformer_cifar10': 1824.0,
        'spikformer_cifar10dvs': 957.6,
        'spikformer_cifar100': 1710.0,
        'sdt_cifar10': 1547.0,
        'sdt_cifar10dvs': 1458.0,
        'sdt_cifar100': 1601.9999999999998,
        'spikebert_sst2': 4910.4,
        'spikebert_mr': 7304.8,
        'spikebert_sst5': 4570.032450851796,
        'spikingbert_sst2': 10293.684332195766,
        'spikingbert_qqp': 10031.108209065022,
        'spikingbert_mnli': 10082.359117942367,
    },
    'Prosperity': {
        'vgg16_cifar10': 38.3187269762,
        'vgg16_cifar100': 43.7092777192,
        'resnet18_cifar10': 14.3535494628,
        'resnet18_cifar100': 14.2941622838,
        'spikformer_cifar10': 3.421569969,
        'spikformer_cifar10dvs': 5.05938903979999,
        'spikformer_cifar100': 3.330505401,
        'sdt_cifar10': 5.7127265762,
        'sdt_cifar10dvs': 10.8483575816,
        'sdt_cifar100': 5.8495582872,
        'spikebert_sst2': 45.3421747824,
        'spikebert_mr': 114.3050862004,
        'spikebert_sst5': 51.3818891964,
        'spikingbert_sst2': 57.4280062951999,
        'spikingbert_qqp': 59.6434696412,
        'spikingbert_mnli': 59.0214737092,
    },
}

# --------------------------------------------------------------------------------------
# Figure 7: design-space exploration of Prosperity's tile size. Latency is normalised to
# Prosperity with bit sparsity only; density is the product density at that tile size.
# Keys: (tile_m, tile_k). The tile_m sweep holds tile_k = 16, the tile_k sweep tile_m = 256.
# --------------------------------------------------------------------------------------
FIG7_SOURCE = f"{PAPER}, Fig. 7 (tile-size exploration)"

FIG7_TILE_M_NORMALIZED_LATENCY: dict[tuple[int, int], dict[str, float]] = {
    (32, 16): {
        'vgg16_cifar10': 0.451076073,
        'vgg16_cifar100': 0.194695867,
        'resnet18_cifar10': 0.487721411,
        'resnet18_cifar100': 0.554772743,
        'spikformer_cifar10': 0.538891498,
        'spikformer_cifar10dvs': 0.467780456,
        'spikformer_cifar100': 0.512595451,
        'sdt_cifar10': 0.570316715,
        'sdt_cifar10dvs': 0.429378544,
        'sdt_cifar100': 0.603710795,
        'spikebert_sst2': 0.419079704,
        'spikebert_mr': 0.358730881,
        'spikebert_sst5': 0.170229895,
        'spikingbert_sst2': 0.339428979,
        'spikingbert_qqp': 0.373029212,
        'spikingbert_mnli': 0.376898871,
    },
    (64, 16): {
        'vgg16_cifar10': 0.418373629,
        'vgg16_cifar100': 0.177815626,
        'resnet18_cifar10': 0.406948901,
        'resnet18_cifar100': 0.435303374,
        'spikformer_cifar10': 0.472513601,
        'spikformer_cifar10dvs': 0.413097994,
        'spikformer_cifar100': 0.446566803,
        'sdt_cifar10': 0.488921616,
        'sdt_cifar10dvs': 0.388274204,
        'sdt_cifar100': 0.512666882,
        'spikebert_sst2': 0.35698908,
        'spikebert_mr': 0.327981399,
        'spikebert_sst5': 0.149002644,
        'spikingbert_sst2': 0.3165511,
        'spikingbert_qqp': 0.336354847,
        'spikingbert_mnli': 0.33944754,
    },
    (128, 16): {
        'vgg16_cifar10': 0.405313517,
        'vgg16_cifar100': 0.168998739,
        'resnet18_cifar10': 0.37764724,
        'resnet18_cifar100': 0.400604763,
        'spikformer_cifar10': 0.42640582,
        'spikformer_cifar10dvs': 0.37348667,
        'spikformer_cifar100': 0.404956906,
        'sdt_cifar10': 0.440551699,
        'sdt_cifar10dvs': 0.360479339,
        'sdt_cifar100': 0.45249551,
        'spikebert_sst2': 0.334236776,
        'spikebert_mr': 0.297083892,
        'spikebert_sst5': 0.136329777,
        'spikingbert_sst2': 0.302857896,
        'spikingbert_qqp': 0.312022876,
        'spikingbert_mnli': 0.316241775,
    },
    (256, 16): {
        'vgg16_cifar10': 0.396800392,
        'vgg16_cifar100': 0.16239986,
        'resnet18_cifar10': 0.362564295,
        'resnet18_cifar100': 0.377425239,
        'spikformer_cifar10': 0.390844473,
        'spikformer_cifar10dvs': 0.343435984,
        'spikformer_cifar100': 0.374173828,
        'sdt_cifar10': 0.402328113,
        'sdt_cifar10dvs': 0.340585954,
        'sdt_cifar100': 0.407558715,
        'spikebert_sst2': 0.329935186,
        'spikebert_mr': 0.270434602,
        'spikebert_sst5': 0.133804813,
        'spikingbert_sst2': 0.294341428,
        'spikingbert_qqp': 0.296341708,
        'spikingbert_mnli': 0.301560866,
    },
    (512, 16): {
        'vgg16_cifar10': 0.390924495,
        'vgg16_cifar100': 0.15738647,
        'resnet18_cifar10': 0.350099743,
        'resnet18_cifar100': 0.358549457,
        'spikformer_cifar10': 0.381242322,
        'spikformer_cifar10dvs': 0.322164731,
        'spikformer_cifar100': 0.364106263,
        'sdt_cifar10': 0.393296977,
        'sdt_cifar10dvs': 0.3266194,
        'sdt_cifar100': 0.399789293,
        'spikebert_sst2': 0.337228497,
        'spikebert_mr': 0.246983426,
        'spikebert_sst5': 0.134943265,
        'spikingbert_sst2': 0.288799496,
        'spikingbert_qqp': 0.285537335,
        'spikingbert_mnli': 0.291835077,
    },
    (1024, 16): {
        'vgg16_cifar10': 0.386357654,
        'vgg16_cifar100': 0.154437854,
        'resnet18_cifar10': 0.339836232,
        'resnet18_cifar100': 0.343609767,
        'spikformer_cifar10': 0.374170438,
        'spikformer_cifar10dvs': 0.306342832,
        'spikformer_cifar100': 0.356891766,
        'sdt_cifar10': 0.386499953,
        'sdt_cifar10dvs': 0.316948438,
        'sdt_cifar100': 0.39400695,
        'spikebert_sst2': 0.359747807,
        'spikebert_mr': 0.231206668,
        'spikebert_sst5': 0.141343622,
        'spikingbert_sst2': 0.285820731,
        'spikingbert_qqp': 0.279141154,
        'spikingbert_mnli': 0.286277779,
    },
    (2048, 16): {
        'vgg16_cifar10': 0.383358129,
        'vgg16_cifar100': 0.151620244,
        'resnet18_cifar10': 0.330813869,
        'resnet18_cifar100': 0.331800908,
        'spikformer_cifar10': 0.371299378,
        'spikformer_cifar10dvs': 0.297706207,
        'spikformer_cifar100': 0.353710977,
        'sdt_cifar10': 0.384741829,
        'sdt_cifar10dvs': 0.311305683,
        'sdt_cifar100': 0.392179431,
        'spikebert_sst2': 0.404786428,
        'spikebert_mr': 0.241198956,
        'spikebert_sst5': 0.154144338,
        'spikingbert_sst2': 0.285668949,
        'spikingbert_qqp': 0.276818856,
        'spikingbert_mnli': 0.284555039,
    },
}

# Both sweeps pass through the default tile 256 x 16, where Fig. 7's product density is
# Fig. 11's, on Fig. 7's 16 workloads (all of Fig. 11's but VGG-9 and LeNet-5).
_FIG7_DEFAULT_TILE_DENSITY: dict[str, float] = {
    workload: density
    for workload, density in FIG11_PRODUCT_DENSITY.items()
    if workload not in {"vgg9_cifar10", "vgg9_cifar10dvs", "lenet5_mnist"}
}

FIG7_TILE_M_PRODUCT_DENSITY: dict[tuple[int, int], dict[str, float]] = {
    (32, 16): {
        'vgg16_cifar10': 0.0309593843089209,
        'vgg16_cifar100': 0.0419109397464328,
        'resnet18_cifar10': 0.0320288887613393,
        'resnet18_cifar100': 0.0366912965304365,
        'spikformer_cifar10': 0.0733765719229714,
        'spikformer_cifar10dvs': 0.0565065579993702,
        'spikformer_cifar100': 0.0674594686250322,
        'sdt_cifar10': 0.0760484353089944,
        'sdt_cifar10dvs': 0.0400861016635237,
        'sdt_cifar100': 0.0841282379932892,
        'spikebert_sst2': 0.0184495742614562,
        'spikebert_mr': 0.0748628825396746,
        'spikebert_sst5': 0.0422770583235823,
        'spikingbert_sst2': 0.046960111136909,
        'spikingbert_qqp': 0.0665541983939505,
        'spikingbert_mnli': 0.0640635017876152,
    },
    (64, 16): {
        'vgg16_cifar10': 0.0283217330773671,
        'vgg16_cifar100': 0.0351582202646467,
        'resnet18_cifar10': 0.0292621357112881,
        'resnet18_cifar100': 0.0323733286966375,
        'spikformer_cifar10': 0.063431652214751,
        'spikformer_cifar10dvs': 0.048211997914537,
        'spikformer_cifar100': 0.0578923810992324,
        'sdt_cifar10': 0.0659040793394431,
        'sdt_cifar10dvs': 0.0345778980474362,
        'sdt_cifar100': 0.0723997654058994,
        'spikebert_sst2': 0.0147799729584931,
        'spikebert_mr': 0.0687918333677916,
        'spikebert_sst5': 0.0330846059071767,
        'spikingbert_sst2': 0.0389926326167476,
        'spikingbert_qqp': 0.0554666905789761,
        'spikingbert_mnli': 0.0526643422272828,
    },
    (128, 16): {
        'vgg16_cifar10': 0.0263457000255584,
        'vgg16_cifar100': 0.0311540630128648,
        'resnet18_cifar10': 0.0270377208942696,
        'resnet18_cifar100': 0.028958801314443,
        'spikformer_cifar10': 0.0552940408019704,
        'spikformer_cifar10dvs': 0.0413023333683192,
        'spikformer_cifar100': 0.0502658840057404,
        'sdt_cifar10': 0.057863049629407,
        'sdt_cifar10dvs': 0.029999112534797,
        'sdt_cifar100': 0.0627732496995192,
        'spikebert_sst2': 0.0131384130712744,
        'spikebert_mr': 0.0594640021567588,
        'spikebert_sst5': 0.0263796654549446,
        'spikingbert_sst2': 0.0335619578490386,
        'spikingbert_qqp': 0.0470965961078265,
        'spikingbert_mnli': 0.0446589207864022,
    },
    (256, 16): _FIG7_DEFAULT_TILE_DENSITY,
    (512, 16): {
        'vgg16_cifar10': 0.0235973331663343,
        'vgg16_cifar100': 0.0250241094165378,
        'resnet18_cifar10': 0.0232620351537349,
        'resnet18_cifar100': 0.0239229574196473,
        'spikformer_cifar10': 0.0459420250419246,
        'spikformer_cifar10dvs': 0.0306656917678975,
        'spikformer_cifar100': 0.0416918932714944,
        'sdt_cifar10': 0.0486650907076322,
        'sdt_cifar10dvs': 0.0231282552083333,
        'sdt_cifar100': 0.0527771778595753,
        'spikebert_sst2': 0.011922607192764,
        'spikebert_mr': 0.0415626073384786,
        'spikebert_sst5': 0.0232704809836081,
        'spikingbert_sst2': 0.0264105861251418,
        'spikingbert_qqp': 0.0357274321822432,
        'spikingbert_mnli': 0.0338487775476129,
    },
    (1024, 16): {
        'vgg16_cifar10': 0.0224743088086446,
        'vgg16_cifar100': 0.0231469041771358,
        'resnet18_cifar10': 0.0216201658719071,
        'resnet18_cifar100': 0.0218827933226551,
        'spikformer_cifar10': 0.0437993698198851,
        'spikformer_cifar10dvs': 0.0265131264089423,
        'spikformer_cifar100': 0.0396270594483681,
        'sdt_cifar10': 0.0467244074894831,
        'sdt_cifar10dvs': 0.0205513965124371,
        'sdt_cifar100': 0.0510029719426081,
        'spikebert_sst2': 0.011922607192764,
        'spikebert_mr': 0.0346176244833089,
        'spikebert_sst5': 0.0232704809836081,
        'spikingbert_sst2': 0.0232999067048768,
        'spikingbert_qqp': 0.0308246440715617,
        'spikingbert_mnli': 0.0292113944216891,
    },
    (2048, 16): {
        'vgg16_cifar10': 0.0215017464425828,
        'vgg16_cifar100': 0.0210524168279435,
        'resnet18_cifar10': 0.019916733720006,
        'resnet18_cifar100': 0.0200302258758881,
        'spikformer_cifar10': 0.0426949736257578,
        'spikformer_cifar10dvs': 0.024023466021101,
        'spikformer_cifar100': 0.0385111679848748,
        'sdt_cifar10': 0.0460190993088942,
        'sdt_cifar10dvs': 0.0188531634451329,
        'sdt_cifar100': 0.0502523960211338,
        'spikebert_sst2': 0.011922607192764,
        'spikebert_mr': 0.0346176244833089,
        'spikebert_sst5': 0.0232704809836081,
        'spikingbert_sst2': 0.0208192580455058,
        'spikingbert_qqp': 0.0267648267316388,
        'spikingbert_mnli': 0.0254429503604098,
    },
}

FIG7_TILE_K_NORMALIZED_LATENCY: dict[tuple[int, int], dict[str, float]] = {
    (256, 4): {
        'vgg16_cifar10': 0.59661244208643,
        'vgg16_cifar100': 0.382653181302166,
        'resnet18_cifar10': 0.592933123467364,
        'resnet18_cifar100': 0.580448650845373,
        'spikformer_cifar10': 0.647999310060112,
        'spikformer_cifar10dvs': 0.552161351129126,
        'spikformer_cifar100': 0.618951024643715,
        'sdt_cifar10': 0.662120840658848,
        'sdt_cifar10dvs': 0.537822098269312,
        'sdt_cifar100': 0.632565905821349,
        'spikebert_sst2': 0.713318331622118,
        'spikebert_mr': 0.480769067903317,
        'spikebert_sst5': 0.336306102426095,
        'spikingbert_sst2': 0.674702655246325,
        'spikingbert_qqp': 0.661066266548522,
        'spikingbert_mnli': 0.664963450098468,
    },
    (256, 8): {
        'vgg16_cifar10': 0.470733389013076,
        'vgg16_cifar100': 0.237927143166841,
        'resnet18_cifar10': 0.439215362129745,
        'resnet18_cifar100': 0.430962834858209,
        'spikformer_cifar10': 0.466263213319849,
        'spikformer_cifar10dvs': 0.399560780075282,
        'spikformer_cifar100': 0.449675282114256,
        'sdt_cifar10': 0.475689470568095,
        'sdt_cifar10dvs': 0.408359249100709,
        'sdt_cifar100': 0.443388518757845,
        'spikebert_sst2': 0.49713920807475,
        'spikebert_mr': 0.293535078473856,
        'spikebert_sst5': 0.192086940653448,
        'spikingbert_sst2': 0.458830079721698,
        'spikingbert_qqp': 0.445501813173116,
        'spikingbert_mnli': 0.454649604167241,
    },
    (256, 16): {
        'vgg16_cifar10': 0.396800391664955,
        'vgg16_cifar100': 0.162399860061663,
        'resnet18_cifar10': 0.362564294875493,
        'resnet18_cifar100': 0.377425239244929,
        'spikformer_cifar10': 0.390844472639728,
        'spikformer_cifar10dvs': 0.343435983918091,
        'spikformer_cifar100': 0.374173827882183,
        'sdt_cifar10': 0.402328112794035,
        'sdt_cifar10dvs': 0.340585954444447,
        'sdt_cifar100': 0.407558715350317,
        'spikebert_sst2': 0.329935186260001,
        'spikebert_mr': 0.270434602444745,
        'spikebert_sst5': 0.133804813276764,
        'spikingbert_sst2': 0.294341427870194,
        'spikingbert_qqp': 0.296341708339828,
        'spikingbert_mnli': 0.301560865794076,
    },
    (256, 32): {
        'vgg16_cifar10': 0.390311134274304,
        'vgg16_cifar100': 0.156944534285545,
        'resnet18_cifar10': 0.439040001262351,
        'resnet18_cifar100': 0.502655515207461,
        'spikformer_cifar10': 0.538424995035314,
        'spikformer_cifar10dvs': 0.413680336585454,
        'spikformer_cifar100': 0.485083021047673,
        'sdt_cifar10': 0.600858104620978,
        'sdt_cifar10dvs': 0.337417031543624,
        'sdt_cifar100': 0.647181066433293,
        'spikebert_sst2': 0.235629159931244,
        'spikebert_mr': 0.260487464007384,
        'spikebert_sst5': 0.123715435590834,
        'spikingbert_sst2': 0.294623503302921,
        'spikingbert_qqp': 0.390846849179999,
        'spikingbert_mnli': 0.382363110780123,
    },
    (256, 64): {
        'vgg16_cifar10': 0.492634305175009,
        'vgg16_cifar100': 0.248030641953191,
        'resnet18_cifar10': 0.633091625036181,
        'resnet18_cifar100': 0.713050223750422,
        'spikformer_cifar10': 0.767059045615175,
        'spikformer_cifar10dvs': 0.59575369347294,
        'spikformer_cifar100': 0.699600012178506,
        'sdt_cifar10': 0.82792832252579,
        'sdt_cifar10dvs': 0.442937877198755,
        'sdt_cifar100': 0.840366676885715,
        'spikebert_sst2': 0.20351780090191,
        'spikebert_mr': 0.24182722562057,
        'spikebert_sst5': 0.129485963997313,
        'spikingbert_sst2': 0.558488503986105,
        'spikingbert_qqp': 0.721566249634423,
        'spikingbert_mnli': 0.715131164478757,
    },
    (256, 128): {
        'vgg16_cifar10': 0.703696869451915,
        'vgg16_cifar100': 0.41154251961421,
        'resnet18_cifar10': 0.788074265234883,
        'resnet18_cifar100': 0.836016516917795,
        'spikformer_cifar10': 0.887016705357454,
        'spikformer_cifar10dvs': 0.773661673397077,
        'spikformer_cifar100': 0.838983441459864,
        'sdt_cifar10': 0.920973148969841,
        'sdt_cifar10dvs': 0.668659652217445,
        'sdt_cifar100': 0.927572171711777,
        'spikebert_sst2': 0.191876084815771,
        'spikebert_mr': 0.242468672441317,
        'spikebert_sst5': 0.151379138082638,
        'spikingbert_sst2': 0.814255915923126,
        'spikingbert_qqp': 0.882289582701263,
        'spikingbert_mnli': 0.880659226708982,
    },
}

FIG7_TILE_K_PRODUCT_DENSITY: dict[tuple[int, int], dict[str, float]] = {
    (256, 4): {
        'vgg16_cifar10': 0.0334481994311014,
        'vgg16_cifar100': 0.0391950772868262,
        'resnet18_cifar10': 0.0324793093515021,
        'resnet18_cifar100': 0.0297665290748309,
        'spikformer_cifar10': 0.0631171857363422,
        'spikformer_cifar10dvs': 0.0426755174298152,
        'spikformer_cifar100': 0.0579340790078366,
        'sdt_cifar10': 0.0649118472368289,
        'sdt_cifar10dvs': 0.0345921395838945,
        'sdt_cifar100': 0.0607302543444511,
        'spikebert_sst2': 0.0613593740148229,
        'spikebert_mr': 0.0479750704836917,
        'spikebert_sst5': 0.0249648595357442,
        'spikingbert_sst2': 0.086631931700148,
        'spikingbert_qqp': 0.0910051556320877,
        'spikingbert_mnli': 0.0884656648378114,
    },
    (256, 8): {
        'vgg16_cifar10': 0.0263656112882826,
        'vgg16_cifar100': 0.0261684755484263,
        'resnet18_cifar10': 0.0243436295465128,
        'resnet18_cifar100': 0.0232781135834166,
        'spikformer_cifar10': 0.0443215699879869,
        'spikformer_cifar10dvs': 0.0322590230781341,
        'spikformer_cifar100': 0.0418953437923277,
        'sdt_cifar10': 0.0447675460424178,
        'sdt_cifar10dvs': 0.0279752007846174,
        'sdt_cifar100': 0.0428104498447516,
        'spikebert_sst2': 0.0259041170458177,
        'spikebert_mr': 0.0292045375606319,
        'spikebert_sst5': 0.0181879381517748,
        'spikingbert_sst2': 0.0398065141729406,
        'spikingbert_qqp': 0.0443269819826693,
        'spikingbert_mnli': 0.0438388274596618,
    },
    (256, 16): _FIG7_DEFAULT_TILE_DENSITY,
    (256, 32): {
        'vgg16_cifar10': 0.0293191307120853,
        'vgg16_cifar100': 0.0428566767109764,
        'resnet18_cifar10': 0.0365044240832241,
        'resnet18_cifar100': 0.0407218175218594,
        'spikformer_cifar10': 0.0770129507909249,
        'spikformer_cifar10dvs': 0.0521788730799594,
        'spikformer_cifar100': 0.0675061740619356,
        'sdt_cifar10': 0.0858643947503505,
        'sdt_cifar10dvs': 0.0322557383570177,
        'sdt_cifar100': 0.0962332505446214,
        'spikebert_sst2': 0.0101386978103591,
        'spikebert_mr': 0.0613327828255501,
        'spikebert_sst5': 0.0354636739324163,
        'spikingbert_sst2': 0.0517602052774515,
        'spikingbert_qqp': 0.081660169738907,
        'spikingbert_mnli': 0.0760960600397608,
    },
    (256, 64): {
        'vgg16_cifar10': 0.0421288609504699,
        'vgg16_cifar100': 0.0811528662840525,
        'resnet18_cifar10': 0.0561781904993906,
        'resnet18_cifar100': 0.0604597404654013,
        'spikformer_cifar10': 0.113246512240792,
        'spikformer_cifar10dvs': 0.079520644428574,
        'spikformer_cifar100': 0.101776312010207,
        'sdt_cifar10': 0.120569943159054,
        'sdt_cifar10dvs': 0.0490089767280666,
        'sdt_cifar100': 0.126976052308693,
        'spikebert_sst2': 0.0131977929009331,
        'spikebert_mr': 0.0625880086744153,
        'spikebert_sst5': 0.0465638444230363,
        'spikingbert_sst2': 0.112780899614901,
        'spikingbert_qqp': 0.159017863574328,
        'spikingbert_mnli': 0.151292620478449,
    },
    (256, 128): {
        'vgg16_cifar10': 0.062554786602656,
        'vgg16_cifar100': 0.13930203517278,
        'resnet18_cifar10': 0.0712460650513503,
        'resnet18_cifar100': 0.0718134696909923,
        'spikformer_cifar10': 0.131831087441144,
        'spikformer_cifar10dvs': 0.104417141352858,
        'spikformer_cifar100': 0.123053110789957,
        'sdt_cifar10': 0.134547033065404,
        'sdt_cifar10dvs': 0.0766141255696614,
        'sdt_cifar100': 0.140557939578325,
        'spikebert_sst2': 0.0154689210313218,
        'spikebert_mr': 0.0663871263956522,
        'spikebert_sst5': 0.062037851717379,
        'spikingbert_sst2': 0.166357255196786,
        'spikingbert_qqp': 0.195161087018949,
        'spikingbert_mnli': 0.187035283526858,
    },
}

# --------------------------------------------------------------------------------------
# Energy model of Section VI (Fig. 8 energy): on-chip power per accelerator, DRAM energy
# per bit, DRAM traffic relative to Prosperity, Prosperity's DRAM traffic per workload,
# and the A100's measured latency and power.
# --------------------------------------------------------------------------------------
ENERGY_SOURCE = f"{PAPER}, Sec. VI energy model (Fig. 8 energy, Fig. 10)"
CLOCK_HZ = 500_000_000
DRAM_ENERGY_PJ_PER_BIT = 12.45

ON_CHIP_POWER_MW: dict[str, float] = {
    'Prosperity': 446.5,
    'Eyeriss': 1410.5,
    'SATO': 319.5,
    'PTB': 982.0,
    'MINT': 396.3,
    'Stellar': 834.0,
}

DRAM_TRAFFIC_RATIO_TO_PROSPERITY: dict[str, float] = {
    'Prosperity': 1.0,
    'Eyeriss': 5.47,
    'SATO': 4.85,
    'PTB': 2.53,
    'MINT': 3.12,
    'Stellar': 1.23,
}

PROSPERITY_DRAM_BITS: dict[str, int] = {
    'vgg16_cifar10': 2306605056,
    'vgg16_cifar100': 2306605056,
    'resnet18_cifar10': 730988544,
    'resnet18_cifar100': 730988544,
    'spikformer_cifar10': 140574720,
    'spikformer_cifar10dvs': 217841664,
    'spikformer_cifar100': 140574720,
    'sdt_cifar10': 241565696,
    'sdt_cifar10dvs': 549388288,
    'sdt_cifar100': 241565696,
    'spikebert_sst2': 2505572352,
    'spikebert_mr': 4982833152,
    'spikebert_sst5': 2505572352,
    'spikingbert_sst2': 2585788416,
    'spikingbert_qqp': 2585788416,
    'spikingbert_mnli': 2585788416,
}

A100_MEASURED_LATENCY_S: dict[str, float] = {
    'spikformer_cifar10': 0.019,
    'spikformer_cifar10dvs': 0.0114,
    'spikformer_cifar100': 0.019,
    'sdt_cifar10': 0.017,
    'sdt_cifar10dvs': 0.018,
    'sdt_cifar100': 0.018,
    'spikebert_sst2': 0.0372,
    'spikebert_mr': 0.0397,
    'spikebert_sst5': 0.033357901,
    'spikingbert_sst2': 0.096202657,
    'spikingbert_qqp': 0.092028516,
    'spikingbert_mnli': 0.094227655,
}

A100_MEASURED_POWER_W: dict[str, float] = {
    'spikformer_cifar10': 96.0,
    'spikformer_cifar10dvs': 84.0,
    'spikformer_cifar100': 90.0,
    'sdt_cifar10': 91.0,
    'sdt_cifar10dvs': 81.0,
    'sdt_cifar100': 89.0,
    'spikebert_sst2': 132.0,
    'spikebert_mr': 184.0,
    'spikebert_sst5': 137.0,
    'spikingbert_sst2': 107.0,
    'spikingbert_qqp': 109.0,
    'spikingbert_mnli': 107.0,
}

STELLAR_REPORTED_LATENCY_S: dict[str, float] = {
    'vgg16_cifar10': 0.040187906,
    'vgg16_cifar100': 0.077698212,
}


# --------------------------------------------------------------------------------------
# The abstract's headline: Prosperity's average speedup and energy efficiency over PTB
# and over the A100 (the paper does not say which mean it takes).
# --------------------------------------------------------------------------------------
HEADLINE_SOURCE = f"{PAPER}, abstract"

HEADLINE_CLAIM: dict[tuple[str, str], float] = {
    ('PTB', 'speedup'): 7.4,
    ('PTB', 'energy_efficiency'): 8.0,
    ('A100', 'speedup'): 1.8,
    ('A100', 'energy_efficiency'): 193.0,
}


_FIG8: dict[Metric, Mapping[str, Mapping[str, float]]] = {
    Metric.LATENCY_S: FIG8_LATENCY_S,
    Metric.ENERGY_MJ: FIG8_ENERGY_MJ,
}
_FIG7_LATENCY = {**FIG7_TILE_M_NORMALIZED_LATENCY, **FIG7_TILE_K_NORMALIZED_LATENCY}
_FIG7_DENSITY = {**FIG7_TILE_M_PRODUCT_DENSITY, **FIG7_TILE_K_PRODUCT_DENSITY}


def canonical_accelerator(name: str) -> str | None:
    """The paper's spelling of an accelerator name (case-insensitive), or ``None``."""
    wanted = name.strip().lower()
    for known in FIG8_LATENCY_S:
        if known.lower() == wanted:
            return known
    return None


def paper_reference(
    metric: str,
    workload: str,
    accelerator: str = "Prosperity",
    tile_m: int = DEFAULT_TILE[0],
    tile_k: int = DEFAULT_TILE[1],
    layer: str = "",
) -> Reference | None:
    """The paper's value for one metric of one workload, if the paper has it.

    Args:
        metric: a :class:`Metric` (``bit_density``, ``product_density``, ``latency_s``,
            ``energy_mj``, ``normalized_latency``); other metrics have no paper value.
        workload: the paper's workload name.
        accelerator: accelerator name (densities and Fig. 7 belong to Prosperity).
        tile_m: Prosperity tile rows of our result.
        tile_k: Prosperity tile columns of our result.
        layer: a layer name; the paper has whole-workload numbers only.

    Returns:
        The value with its source, or ``None`` when the paper has no number for exactly
        this workload, accelerator and configuration.
    """
    if layer:
        return None
    tile = (tile_m, tile_k)
    acc = canonical_accelerator(accelerator)
    if metric in (Metric.LATENCY_S, Metric.ENERGY_MJ):
        if acc is None or (acc == "Prosperity" and tile != DEFAULT_TILE):
            return None
        value = _FIG8[Metric(metric)].get(acc, {}).get(workload)
        return None if value is None else Reference(value, FIG8_SOURCE)
    if acc != "Prosperity":
        return None
    if metric == Metric.BIT_DENSITY:
        # Bit density does not depend on the tile; Fig. 11 has it for every workload.
        value = FIG11_BIT_DENSITY.get(workload)
        return None if value is None else Reference(value, FIG11_SOURCE)
    if metric == Metric.PRODUCT_DENSITY:
        if tile == DEFAULT_TILE and workload in FIG11_PRODUCT_DENSITY:
            return Reference(FIG11_PRODUCT_DENSITY[workload], FIG11_SOURCE)
        value = _FIG7_DENSITY.get(tile, {}).get(workload)
        return None if value is None else Reference(value, FIG7_SOURCE)
    if metric == Metric.NORMALIZED_LATENCY:
        value = _FIG7_LATENCY.get(tile, {}).get(workload)
        return None if value is None else Reference(value, FIG7_SOURCE)
    return None


def paper_workloads() -> tuple[str, ...]:
    """Every workload the paper reports a number for, in Figure 11's order."""
    return tuple(FIG11_BIT_DENSITY)
