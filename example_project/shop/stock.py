def available_to_sell(stock):
    """``STOCK_AVAILABLE``: units in the warehouse not yet promised to an order."""
    return stock.num_in_stock - stock.num_allocated
