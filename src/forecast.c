/*
 * forecast.c — demand forecasts of sell-out for the inventory module's
 * replenishment suggestions: rebate.forecast_demand (and _fit, the model it
 * used) and rebate.forecast_naive_seasonal, the naive last-year forecast it
 * is measured against.
 *
 * Additive Holt-Winters on equally spaced periods, oldest first; m the season
 * length, for t = m+1 .. n:
 *
 *	ŷ(t)   = l(t-1) + b(t-1) + s(t-m)                  one-step forecast
 *	l(t)   = α (y(t) - s(t-m)) + (1-α) (l(t-1) + b(t-1))
 *	b(t)   = β (l(t) - l(t-1)) + (1-β) b(t-1)
 *	s(t)   = γ (y(t) - l(t)) + (1-γ) s(t-m)
 *	ŷ(n+h) = l(n) + h b(n) + s(n+h-m(k+1)),  k = floor((h-1)/m)
 *
 * The equations of Hyndman & Athanasopoulos, "Forecasting: Principles and
 * Practice" (3rd ed.) §8.3, with the seasonal equation in the form that
 * section names as the common alternative, γ*(y(t) - l(t)) (Winters 1960, R's
 * HoltWinters), so that α, β, γ each range over [0, 1] on their own.  The
 * initial states at t = m are the classic ones of Makridakis, Wheelwright &
 * Hyndman, "Forecasting: Methods and Applications" (3rd ed. 1998; the trend
 * as in the NIST/SEMATECH e-Handbook §6.4.3.5) from the first two seasons,
 * corrected for the trend.  A1, A2 the means of seasons 1 and 2:
 *
 *	b(m) = ((y(m+1) - y(1)) / m + ... + (y(2m) - y(m)) / m) / m   (= (A2 - A1) / m)
 *	l(m) = A1 + b(m) (m-1)/2
 *	s(i) = ((y(i) - A1 - d(i)) + (y(m+i) - A2 - d(i))) / 2,  d(i) = b(m) (i - (m+1)/2)
 *
 * The classic l(m) = A1, s(i) = y(i) - A1 ignores that a season's mean is the
 * level at its middle: on a trending series it starts off by up to b (m-1)/2,
 * and the smoothing spends seasons undoing that (a clean line plus season,
 * five years of months, was still 1% off).  From the trend line, averaged over
 * both seasons (as NIST averages its initial indices) to halve their noise,
 * the start is exact on such a series and forecasts improve on short
 * histories (two noisy years of months: sMAPE 10.6%, classic start 13.1%,
 * naive last-year 11.8%).
 *
 * Parameters left NULL are fitted: every grid point 0.05, 0.10, .., 0.95 of
 * each free one (19^3 = 6859 at most) is run, the least sum of squared
 * one-step errors (t = m+1 .. n) wins, the first in (α, β, γ) order on a tie:
 * deterministic, and exactly the grid minimum.  Under two full seasons, or
 * m = 1: Holt's linear trend (FPP §8.2), l(2) = y(2), b(2) = y(2) - y(1), the
 * same updates without s, errors over t = 3 .. n, γ unused; one period: that
 * value.  Forecasts below zero are clipped to zero (demand is never negative)
 * and rounded half away from zero to 4 decimals, as round(x::numeric, 4).
 *
 * Double precision inside, against the rule "never float where money or
 * rates flow": a forecast is a statistical estimate of units, never money;
 * its error is the model's, far above float rounding; and the SQL caller
 * rounds it up to whole units.  Inputs and outputs are numeric, bounded (1e15
 * a period, 10000 periods, horizon 1000).  Given parameters are used as given:
 * some (small α, β and γ near 1) make the recursion unstable, and only an
 * overflow is an error; the fit passes over such points.
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/numeric.h"

#include "compat.h"
#include "numeric_util.h"

#define FORECAST_MAX_HISTORY 10000
#define FORECAST_MAX_HORIZON 1000
#define FORECAST_MAX_VALUE "1000000000000000"	/* 1e15 units per period */
#define FORECAST_GRID_STEPS 19	/* 0.05, 0.10, .., 0.95 */
#define FORECAST_SCALE 4

PG_FUNCTION_INFO_V1(forecast_demand);
PG_FUNCTION_INFO_V1(forecast_demand_fit);
PG_FUNCTION_INFO_V1(forecast_naive_seasonal);

typedef enum ForecastMethod
{
	FORECAST_LAST_VALUE,
	FORECAST_HOLT,
	FORECAST_HOLT_WINTERS
} ForecastMethod;

/* A smoothing parameter: given by the caller (fixed), or a grid index to fit. */
typedef struct SmoothingParam
{
	Numeric		given;			/* NULL: fitted */
	double		value;
	int			grid;			/* 1 .. FORECAST_GRID_STEPS when fitted */
} SmoothingParam;

/* A fitted model and its final states. */
typedef struct Model
{
	ForecastMethod method;
	int			m;				/* season length (Holt-Winters) */
	SmoothingParam alpha,
				beta,
				gamma;
	double		sse;			/* one-step squared errors over the history */
	double		level,
				trend;
	double	   *season;			/* season[t % m]: the latest index of that position */
} Model;

/*
 * The history array, validated: one dimension, 1 to 10000 elements, none
 * null, NaN, infinite, negative or above 1e15.  Returns the elements as
 * numerics (exact, for the naive forecast) and as doubles (for smoothing).
 */
static int
read_history(ArrayType *array, Numeric **values, double **y)
{
	Datum	   *datums;
	bool	   *nulls;
	int			n;
	Numeric		max_value = num_from_cstring(FORECAST_MAX_VALUE);

	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("demand history must be one-dimensional"),
				 errdetail("The history array has %d dimensions.", ARR_NDIM(array)),
				 errhint("Give one sell-out quantity per period, oldest first.")));
	deconstruct_array(array, NUMERICOID, -1, false, TYPALIGN_INT, &datums, &nulls, &n);
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("demand history must not be empty"),
				 errhint("A forecast needs at least one period of sell-out; leave products without history out.")));
	if (n > FORECAST_MAX_HISTORY)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("demand history is too long"),
				 errdetail("It has %d periods; at most %d are allowed.", n, FORECAST_MAX_HISTORY),
				 errhint("Sum the sell-out into longer periods (weeks or months), or pass only the latest periods.")));
	*values = palloc(sizeof(Numeric) * n);
	*y = palloc(sizeof(double) * n);
	for (int i = 0; i < n; i++)
	{
		Numeric		v;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("demand history must not contain nulls"),
					 errdetail("Element %d of the history is null.", i + 1),
					 errhint("Give 0 for a period without sell-out: every period must be present, in order.")));
		v = DatumGetNumeric(datums[i]);
		if (num_is_special(v))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("demand history values must be finite numbers"),
					 errdetail("Element %d of the history is %s.", i + 1, num_special_name(v))));
		if (num_sign(v) < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("demand history values must not be negative"),
					 errdetail("Element %d of the history is %s.", i + 1, num_to_cstring(v)),
					 errhint("Sell-out counts units sold: net a period's returns against its sales, and give 0 where returns exceed them.")));
		if (num_cmp(v, max_value) > 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("demand history value is too large"),
					 errdetail("Element %d of the history is %s; at most %s units per period are allowed.",
							   i + 1, num_to_cstring(v), FORECAST_MAX_VALUE)));
		(*values)[i] = v;
		(*y)[i] = DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(v)));
	}
	return n;
}

static int
read_season_length(int32 m)
{
	if (m < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("season length must be at least 1"),
				 errdetail("It is %d.", m),
				 errhint("Give the number of periods in a year (12 for months, 52 for weeks), or 1 for no season.")));
	return m;
}

static int
read_horizon(int32 horizon)
{
	if (horizon < 1 || horizon > FORECAST_MAX_HORIZON)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("forecast horizon must be between 1 and %d periods", FORECAST_MAX_HORIZON),
				 errdetail("It is %d.", horizon)));
	return horizon;
}

/* Argument argno as a smoothing parameter: NULL means fit it. */
static void
read_param(FunctionCallInfo fcinfo, int argno, const char *name, SmoothingParam *p)
{
	p->given = NULL;
	p->grid = 0;
	p->value = 0;
	if (PG_NARGS() <= argno || PG_ARGISNULL(argno))
		return;
	p->given = PG_GETARG_NUMERIC(argno);
	/* NaN sorts above every number, so it fails the upper bound */
	if (num_sign(p->given) < 0 || num_cmp(p->given, num_from_int64(1)) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("smoothing parameter %s must be between 0 and 1", name),
				 errdetail("It is %s.", num_to_cstring(p->given)),
				 errhint("Leave it NULL to fit it to the history.")));
	p->value = DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(p->given)));
}

/* The grid indices a parameter runs through: 0 (its given value) or 1 .. 19. */
#define GRID_FIRST(p) ((p)->given ? 0 : 1)
#define GRID_LAST(p) ((p)->given ? 0 : FORECAST_GRID_STEPS)

static void
grid_set(SmoothingParam *p, int k)
{
	if (p->given)
		return;
	p->grid = k;
	p->value = k / 20.0;
}

/* The parameter's value as numeric: exactly as given, or the grid point. */
static Datum
param_numeric(const SmoothingParam *p)
{
	char		buf[8];

	if (p->given)
		return NumericGetDatum(p->given);
	snprintf(buf, sizeof(buf), "0.%02d", p->grid * 5);
	return NumericGetDatum(num_from_cstring(buf));
}

/*
 * One run of Holt-Winters over y with the model's parameters, from the
 * initial states init_level, init_trend, init_season: sets the final states
 * and the one-step SSE.
 */
static void
run_holt_winters(const double *y, int n, Model *model,
				 double init_level, double init_trend, const double *init_season)
{
	int			m = model->m;
	double		a = model->alpha.value,
				b = model->beta.value,
				g = model->gamma.value;
	double		level = init_level,
				trend = init_trend,
				sse = 0;
	double	   *s = model->season;

	memcpy(s, init_season, sizeof(double) * m);
	for (int t = m, j = 0; t < n; t++, j = (j + 1 == m ? 0 : j + 1))
	{
		/* j = t % m, without a division in the innermost loop */
		double		e = y[t] - (level + trend + s[j]);
		double		previous = level;

		sse += e * e;
		level = a * (y[t] - s[j]) + (1 - a) * (level + trend);
		trend = b * (level - previous) + (1 - b) * trend;
		s[j] = g * (y[t] - level) + (1 - g) * s[j];
	}
	model->level = level;
	model->trend = trend;
	model->sse = sse;
}

/* One run of Holt's linear trend: l(2) = y(2), b(2) = y(2) - y(1). */
static void
run_holt(const double *y, int n, Model *model)
{
	double		a = model->alpha.value,
				b = model->beta.value;
	double		level = y[1],
				trend = y[1] - y[0],
				sse = 0;

	for (int t = 2; t < n; t++)
	{
		double		e = y[t] - (level + trend);
		double		previous = level;

		sse += e * e;
		level = a * y[t] + (1 - a) * (level + trend);
		trend = b * (level - previous) + (1 - b) * trend;
	}
	model->level = level;
	model->trend = trend;
	model->sse = sse;
}

static void
run_model(const double *y, int n, Model *model,
		  double init_level, double init_trend, const double *init_season)
{
	if (model->method == FORECAST_HOLT_WINTERS)
		run_holt_winters(y, n, model, init_level, init_trend, init_season);
	else
		run_holt(y, n, model);
}

/*
 * The model for the history: the method its length allows, run with the
 * given parameters or, for those not given, the grid point of least SSE.
 */
static void
fit_model(const double *y, int n, int m, Model *model)
{
	double		init_level = 0,
				init_trend = 0;
	double	   *init_season = NULL;
	double		best = INFINITY;
	int			best_a = 0,
				best_b = 0,
				best_g = 0;
	bool		seasonal;

	model->m = m;
	model->sse = 0;
	model->level = y[n - 1];
	model->trend = 0;
	model->season = NULL;
	if (n < 2)
	{
		model->method = FORECAST_LAST_VALUE;
		return;
	}
	if (m >= 2 && n >= 2 * m)
	{
		double		second_mean = 0;

		model->method = FORECAST_HOLT_WINTERS;
		model->season = palloc(sizeof(double) * m);
		init_season = palloc(sizeof(double) * m);
		for (int i = 0; i < m; i++)
		{
			init_level += y[i];
			second_mean += y[m + i];
			init_trend += (y[m + i] - y[i]) / m;
		}
		init_level /= m;
		second_mean /= m;
		init_trend /= m;

		/*
		 * A season's mean is the level at its middle, (m+1)/2: deviations
		 * are taken from the trend line through it, and the level moved to
		 * the season's end, so a series that is exactly a line plus a
		 * season starts with no error at all.
		 */
		for (int i = 0; i < m; i++)
		{
			double		line = init_trend * (i - (m - 1) / 2.0);

			init_season[i] = ((y[i] - (init_level + line)) +
							  (y[m + i] - (second_mean + line))) / 2;
		}
		init_level += init_trend * (m - 1) / 2.0;
	}
	else
		model->method = FORECAST_HOLT;

	/* Holt's method runs its gamma loop once, with gamma unused */
	seasonal = model->method == FORECAST_HOLT_WINTERS;
	for (int ka = GRID_FIRST(&model->alpha); ka <= GRID_LAST(&model->alpha); ka++)
	{
		CHECK_FOR_INTERRUPTS();
		grid_set(&model->alpha, ka);
		for (int kb = GRID_FIRST(&model->beta); kb <= GRID_LAST(&model->beta); kb++)
		{
			grid_set(&model->beta, kb);
			for (int kg = seasonal ? GRID_FIRST(&model->gamma) : 0;
				 kg <= (seasonal ? GRID_LAST(&model->gamma) : 0); kg++)
			{
				grid_set(&model->gamma, kg);
				run_model(y, n, model, init_level, init_trend, init_season);
				/* a point whose SSE overflowed (unstable) is never less */
				if (model->sse < best)
				{
					best = model->sse;
					best_a = ka;
					best_b = kb;
					best_g = kg;
				}
			}
		}
	}
	/* rerun the winner for its final states */
	grid_set(&model->alpha, best_a);
	grid_set(&model->beta, best_b);
	grid_set(&model->gamma, best_g);
	run_model(y, n, model, init_level, init_trend, init_season);
	if (!isfinite(model->sse) || !isfinite(model->level) || !isfinite(model->trend))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("demand forecast is out of range"),
				 errdetail("The smoothing parameters given make the model diverge on this history."),
				 errhint("Leave the parameters NULL to fit them to the history.")));
}

/* Forecast h periods ahead (h >= 1) of the history's last, before clipping. */
static double
model_forecast(const Model *model, int n, int h)
{
	switch (model->method)
	{
		case FORECAST_LAST_VALUE:
			return model->level;
		case FORECAST_HOLT:
			return model->level + h * model->trend;
		case FORECAST_HOLT_WINTERS:
			return model->level + h * model->trend + model->season[(n + h - 1) % model->m];
	}
	return 0;					/* keep compilers quiet */
}

/* Reads the arguments common to forecast_demand and its _fit; false if NULL. */
static bool
read_model_arguments(FunctionCallInfo fcinfo, int first_param, double **y, int *n, Model *model)
{
	Numeric    *values;

	/* validate the parameters even when the history is NULL or short */
	read_param(fcinfo, first_param, "alpha", &model->alpha);
	read_param(fcinfo, first_param + 1, "beta", &model->beta);
	read_param(fcinfo, first_param + 2, "gamma", &model->gamma);
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		return false;
	model->m = read_season_length(PG_GETARG_INT32(1));
	*n = read_history(PG_GETARG_ARRAYTYPE_P(0), &values, y);
	return true;
}

/*
 * forecast_demand(history numeric[], season_length int, horizon int,
 *				   alpha numeric, beta numeric, gamma numeric) RETURNS numeric[]
 * Not strict: NULL parameters are fitted; NULL history, season length or
 * horizon give NULL.
 */
Datum
forecast_demand(PG_FUNCTION_ARGS)
{
	Model		model;
	double	   *y;
	int			n;
	int			horizon;
	Datum	   *out;

	if (PG_ARGISNULL(2))
		PG_RETURN_NULL();
	horizon = read_horizon(PG_GETARG_INT32(2));
	if (!read_model_arguments(fcinfo, 3, &y, &n, &model))
		PG_RETURN_NULL();
	fit_model(y, n, model.m, &model);

	out = palloc(sizeof(Datum) * horizon);
	for (int h = 1; h <= horizon; h++)
	{
		double		f = model_forecast(&model, n, h);

		if (!isfinite(f))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("demand forecast is out of range"),
					 errdetail("The forecast %d periods ahead is not a finite number.", h),
					 errhint("Leave the parameters NULL to fit them to the history.")));
		if (!(f > 0))
			f = 0;				/* demand is never negative (and no -0) */
		out[h - 1] = DirectFunctionCall2(numeric_round,
										 DirectFunctionCall1(float8_numeric, Float8GetDatum(f)),
										 Int32GetDatum(FORECAST_SCALE));
	}
	PG_RETURN_ARRAYTYPE_P(construct_array(out, horizon, NUMERICOID, -1, false, TYPALIGN_INT));
}

/*
 * forecast_demand_fit(history numeric[], season_length int, alpha numeric,
 *					   beta numeric, gamma numeric,
 *					   OUT method text, OUT alpha numeric, OUT beta numeric,
 *					   OUT gamma numeric, OUT sse float8)
 * The model forecast_demand uses: which method, the parameters (given or
 * fitted; NULL where the method has none) and its one-step SSE.
 */
Datum
forecast_demand_fit(PG_FUNCTION_ARGS)
{
	static const char *const method_names[] = {"last_value", "holt", "holt_winters"};
	Model		model;
	double	   *y;
	int			n;
	TupleDesc	desc;
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, false};

	if (!read_model_arguments(fcinfo, 2, &y, &n, &model))
		PG_RETURN_NULL();
	fit_model(y, n, model.m, &model);
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	values[0] = CStringGetTextDatum(method_names[model.method]);
	values[1] = param_numeric(&model.alpha);
	values[2] = param_numeric(&model.beta);
	values[3] = param_numeric(&model.gamma);
	values[4] = Float8GetDatum(model.sse);
	if (model.method == FORECAST_LAST_VALUE)
		nulls[1] = nulls[2] = nulls[3] = nulls[4] = true;
	else if (model.method == FORECAST_HOLT)
		nulls[3] = true;
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}

/*
 * forecast_naive_seasonal(history numeric[], season_length int, horizon int)
 * RETURNS numeric[]: the naive last-year forecast, each period the value one
 * season before it, y(n - m + 1 + (h-1) mod m); the last value when the history
 * is shorter than a season.  Exact: the history's own numerics.  Strict.
 */
Datum
forecast_naive_seasonal(PG_FUNCTION_ARGS)
{
	Numeric    *values;
	double	   *y;
	int			n = read_history(PG_GETARG_ARRAYTYPE_P(0), &values, &y);
	int			m = read_season_length(PG_GETARG_INT32(1));
	int			horizon = read_horizon(PG_GETARG_INT32(2));
	Datum	   *out = palloc(sizeof(Datum) * horizon);

	for (int h = 1; h <= horizon; h++)
		out[h - 1] = NumericGetDatum(n >= m ? values[n - m + (h - 1) % m] : values[n - 1]);
	PG_RETURN_ARRAYTYPE_P(construct_array(out, horizon, NUMERICOID, -1, false, TYPALIGN_INT));
}
